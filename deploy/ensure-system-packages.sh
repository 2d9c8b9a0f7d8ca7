#!/usr/bin/env bash
# Install the Debian packages the test suite drives for real (Chromium, nginx, wrk, ffmpeg) when missing.
# ffmpeg is optional for the app itself (the imageio-ffmpeg wheel ships one), but ffprobe makes probing faster.
# LibreOffice (headless, no GUI) converts uploaded slides and Word documents to PDF for the reader.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/sbin/nginx ] || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v soffice >/dev/null || need+=(libreoffice-writer-nogui libreoffice-impress-nogui)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "Missing system packages: ${need[*]}. Install them (Debian: apt-get install -y ${need[*]})." >&2
  exit 1
fi
echo "Installing ${need[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
