"""Locate the ffmpeg and ffprobe binaries: configured, system, or the imageio-ffmpeg wheel."""
import os
import shutil
from functools import lru_cache


@lru_cache(maxsize=None)
def _resolve(configured: str | None, name: str) -> str | None:
    if configured:
        return configured
    found = shutil.which(name)
    if found:
        return found
    if name == "ffmpeg":
        try:
            import imageio_ffmpeg

            return imageio_ffmpeg.get_ffmpeg_exe()
        except Exception:  # the wheel is a fallback only
            return None
    return None


def ffmpeg_binary() -> str:
    """Return the path of an ffmpeg binary, or raise with a hint."""
    path = _resolve(os.environ.get("FFMPEG_BINARY"), "ffmpeg")
    if not path:
        raise RuntimeError("ffmpeg not found: install it or the imageio-ffmpeg wheel")
    return path


def ffprobe_binary() -> str | None:
    """Return the path of ffprobe, or None when only imageio-ffmpeg's ffmpeg exists."""
    return _resolve(os.environ.get("FFPROBE_BINARY"), "ffprobe")
