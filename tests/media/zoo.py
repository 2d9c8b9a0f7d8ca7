"""The media zoo: small real and broken media files generated with ffmpeg.

Every case is made by ffmpeg (or by a few lines of Python for the broken ones)
during the test run, at tiny sizes so the whole zoo builds in seconds. The files
are cached in a temporary folder keyed by the zoo's version and the ffmpeg
binary, so a rerun (or another xdist worker) reuses them.

Each case says what a correct pipeline must make of it: for a valid source the
kind, the display orientation, the duration and the rungs; for a broken one the
reason code the probe or the transcode must fail with.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import random
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

#: bump when a case's recipe changes, so stale caches are not reused
ZOO_VERSION = "7"


@dataclass(frozen=True)
class ZooCase:
    """One zoo file and what the pipeline must make of it."""

    name: str
    filename: str
    #: "video", "audio" or "document" for valid sources; None for broken ones
    kind: str | None
    #: reason code of the failure for broken sources (see app.media.probe.REASONS)
    reason: str | None = None
    duration_s: float | None = None
    #: "portrait" or "landscape" for video
    orientation: str | None = None
    #: the rendition labels the ladder must produce
    rungs: tuple[str, ...] = ()
    has_audio: bool = True
    #: expected display size of the source (after rotation and sample aspect)
    display_size: tuple[int, int] | None = None
    notes: dict = field(default_factory=dict)

    @property
    def is_valid(self) -> bool:
        return self.kind is not None


def _run(ffmpeg: str, *args: str) -> None:
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"zoo: {' '.join(cmd)} failed: {done.stderr[-2000:]}")


def _src(size: str, rate: int, duration: float, pattern: str = "testsrc2") -> list[str]:
    return ["-f", "lavfi", "-i", f"{pattern}=s={size}:r={rate}:d={duration}"]


def _tone(duration: float, layout: str = "stereo", rate: int = 48000, freq: int = 440) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=f={freq}:d={duration}:sample_rate={rate},aformat=channel_layouts={layout}"]


def _x264(preset: str = "ultrafast") -> list[str]:
    return ["-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p"]


def _set_rotation(path: Path, degrees: int) -> None:
    """Write a display matrix into the first track's tkhd, as a phone does for portrait clips."""
    data = bytearray(path.read_bytes())

    def boxes(start: int, end: int):
        pos = start
        while pos + 8 <= end:
            size, kind = struct.unpack(">I4s", data[pos:pos + 8])
            header = 8
            if size == 1:
                size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
                header = 16
            elif size == 0:
                size = end - pos
            yield kind, pos, pos + header, pos + size
            pos += size

    moov = next((b for b in boxes(0, len(data)) if b[0] == b"moov"), None)
    trak = next((b for b in boxes(moov[2], moov[3]) if b[0] == b"trak"), None)
    tkhd = next((b for b in boxes(trak[2], trak[3]) if b[0] == b"tkhd"), None)
    body = tkhd[2]
    version = data[body]
    offset = body + 4 + (8 + 8 + 4 + 4 + 8 if version == 1 else 4 + 4 + 4 + 4 + 4) + 8 + 2 + 2 + 2 + 2
    one, fixed = 0x10000, 0x40000000
    matrices = {
        90: (0, one, 0, -one, 0, 0, 0, 0, fixed),
        180: (-one, 0, 0, 0, -one, 0, 0, 0, fixed),
        270: (0, -one, 0, one, 0, 0, 0, 0, fixed),
    }
    data[offset:offset + 36] = struct.pack(">9i", *matrices[degrees])
    path.write_bytes(bytes(data))


# --- recipes: each writes the case's file at `out` --------------------------------------------

def _make_phone_portrait(ffmpeg: str, out: Path) -> None:
    # A phone records landscape pixels and marks the track "rotate 90°".
    _run(ffmpeg, *_src("640x360", 15, 1.5), *_tone(1.5), *_x264(), "-c:a", "aac", "-b:a", "64k",
         "-shortest", "-f", "mp4", str(out))
    _set_rotation(out, 90)


def _make_vfr(ffmpeg: str, out: Path) -> None:
    # Dropping an irregular set of frames and keeping their timestamps makes the rate variable.
    _run(ffmpeg, *_src("320x240", 30, 2), *_tone(2),
         "-vf", "select='lt(mod(n\\,7)\\,3)+lt(mod(n\\,11)\\,1)'", "-fps_mode", "vfr",
         *_x264(), "-c:a", "aac", "-shortest", "-f", "mp4", str(out))


def _make_hevc10(ffmpeg: str, out: Path) -> None:
    _run(ffmpeg, *_src("320x240", 15, 1), *_tone(1), "-c:v", "libx265", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p10le", "-x265-params", "log-level=error", "-tag:v", "hvc1",
         "-c:a", "aac", "-shortest", "-f", "mp4", str(out))


def _make_asf(ffmpeg: str, out: Path) -> None:
    _run(ffmpeg, *_src("320x240", 15, 1.5), *_tone(1.5, rate=44100), "-c:v", "wmv2", "-b:v", "400k",
         "-c:a", "wmav2", "-b:a", "64k", "-shortest", "-f", "asf", str(out))


def _make_dvd(ffmpeg: str, out: Path) -> None:
    # Full DVD PAL frame, anamorphic 16:9 (SAR 64:45), interlaced top field first, AC-3 audio.
    _run(ffmpeg, *_src("720x576", 25, 1), *_tone(1), "-vf", "setsar=64/45", "-c:v", "mpeg2video",
         "-b:v", "3M", "-flags", "+ilme+ildct", "-top", "1", "-aspect", "16:9",
         "-c:a", "ac3", "-b:a", "192k", "-shortest", "-f", "vob", str(out))


def _make_avi_mp3(ffmpeg: str, out: Path) -> None:
    _run(ffmpeg, *_src("320x240", 15, 1.5), *_tone(1.5, rate=44100), "-c:v", "mpeg4", "-q:v", "5",
         "-c:a", "libmp3lame", "-b:a", "96k", "-shortest", "-f", "avi", str(out))


def _make_webm(ffmpeg: str, out: Path) -> None:
    _run(ffmpeg, *_src("320x240", 15, 1.5), *_tone(1.5), "-c:v", "libvpx-vp9", "-deadline", "realtime",
         "-cpu-used", "8", "-b:v", "300k", "-c:a", "libopus", "-b:a", "48k", "-shortest", "-f", "webm", str(out))


def _make_mp3_cover(ffmpeg: str, out: Path) -> None:
    cover = out.with_suffix(".cover.png")
    _run(ffmpeg, "-f", "lavfi", "-i", "testsrc=s=300x300:d=1", "-frames:v", "1", str(cover))
    _run(ffmpeg, *_tone(2, rate=44100), "-i", str(cover), "-map", "0:a", "-map", "1:v",
         "-c:a", "libmp3lame", "-b:a", "64k", "-c:v", "png", "-disposition:v", "attached_pic",
         "-id3v2_version", "3", "-metadata:s:v", "title=Album cover", "-f", "mp3", str(out))
    cover.unlink()


def _make_mp3_plain(ffmpeg: str, out: Path) -> None:
    _run(ffmpeg, *_tone(1.5, rate=44100), "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", str(out))


def _make_silent_video(ffmpeg: str, out: Path) -> None:
    _run(ffmpeg, *_src("320x240", 15, 1.5), *_x264(), "-f", "mp4", str(out))


def _make_odd(ffmpeg: str, out: Path) -> None:
    # 4:4:4 screen recordings may have odd sizes; H.264 4:2:0 output needs even ones.
    _run(ffmpeg, *_src("322x242", 15, 1), *_tone(1), "-vf", "format=yuv444p,crop=321:241:0:0",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p", "-c:a", "aac", "-shortest", "-f", "mp4", str(out))


def _make_4k(ffmpeg: str, out: Path) -> None:
    _run(ffmpeg, *_src("3840x2160", 5, 1), *_tone(1), *_x264(), "-c:a", "aac", "-shortest", "-f", "mp4", str(out))


def _make_surround(ffmpeg: str, out: Path) -> None:
    _run(ffmpeg, *_src("320x240", 15, 1.5), *_tone(1.5, layout="5.1"), *_x264(), "-c:a", "aac",
         "-b:a", "192k", "-shortest", "-f", "mp4", str(out))


def _make_hd(ffmpeg: str, out: Path) -> None:
    _run(ffmpeg, *_src("1280x720", 10, 1), *_tone(1), *_x264(), "-c:a", "aac", "-shortest", "-f", "mp4", str(out))


def _make_m4a(ffmpeg: str, out: Path) -> None:
    _run(ffmpeg, *_tone(1.5), "-c:a", "aac", "-b:a", "64k", "-f", "ipod", str(out))


def _make_truncated(ffmpeg: str, out: Path) -> None:
    # A camera file cut short: the index (moov) at the end never arrived.
    _run(ffmpeg, *_src("320x240", 15, 2), *_tone(2), *_x264(), "-c:a", "aac", "-shortest", "-f", "mp4", str(out))
    data = out.read_bytes()
    out.write_bytes(data[: len(data) * 6 // 10])


def _make_truncated_faststart(ffmpeg: str, out: Path) -> None:
    # The index is complete (faststart) but the media data stops at 40 %.
    _run(ffmpeg, *_src("320x240", 15, 2), *_tone(2), *_x264(), "-c:a", "aac", "-shortest",
         "-movflags", "+faststart", "-f", "mp4", str(out))
    data = out.read_bytes()
    out.write_bytes(data[: len(data) * 4 // 10])


def _make_corrupt_middle(ffmpeg: str, out: Path) -> None:
    _run(ffmpeg, *_src("320x240", 15, 2), *_tone(2), *_x264(), "-c:a", "aac", "-shortest",
         "-movflags", "+faststart", "-f", "mp4", str(out))
    data = bytearray(out.read_bytes())
    rng = random.Random(5)
    start, end = len(data) * 35 // 100, len(data) * 75 // 100
    data[start:end] = bytes(rng.getrandbits(8) for _ in range(end - start))
    out.write_bytes(bytes(data))


def _make_random(ffmpeg: str, out: Path) -> None:
    rng = random.Random(42)
    out.write_bytes(bytes(rng.getrandbits(8) for _ in range(64 * 1024)))


def _make_empty(ffmpeg: str, out: Path) -> None:
    out.write_bytes(b"")


def _make_mkv_as_mp4(ffmpeg: str, out: Path) -> None:
    _run(ffmpeg, *_src("320x240", 15, 1.5), *_tone(1.5), *_x264(), "-c:a", "aac", "-shortest",
         "-f", "matroska", str(out))


def _make_hls_as_mp4(ffmpeg: str, out: Path) -> None:
    # A playlist that points at a real local segment: following it would read another file.
    segment = out.parent / "segment0.ts"
    _run(ffmpeg, *_src("320x240", 15, 1), *_tone(1), *_x264(), "-c:a", "aac", "-shortest",
         "-f", "mpegts", str(segment))
    out.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:1.0,\n{segment.name}\n#EXT-X-ENDLIST\n"
    )


def _make_pdf(ffmpeg: str, out: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=16)
    pdf.cell(text="Handout: page 1")
    out.write_bytes(bytes(pdf.output()))


def _make_damaged_pdf(ffmpeg: str, out: Path) -> None:
    out.write_bytes(b"%PDF-1.4\ntruncated\n")  # 19 bytes: a PDF header and nothing a reader can open


def _make_pageless_pdf(ffmpeg: str, out: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    data = bytes(pdf.output())
    # the same well-formed file with its page tree emptied (the byte length, hence the xref, unchanged)
    out.write_bytes(data.replace(b"/Kids [3 0 R]", b"/Kids [     ]").replace(b"/Count 1", b"/Count 0"))


def _make_text_as_mp4(ffmpeg: str, out: Path) -> None:
    out.write_text("This is a lesson plan, not a video.\n" * 40)


LANDSCAPE, PORTRAIT = "landscape", "portrait"

#: name -> (recipe, case)
RECIPES: dict[str, tuple[Callable[[str, Path], None], ZooCase]] = {
    "phone_portrait": (_make_phone_portrait, ZooCase(
        "phone_portrait", "IMG_0042.MOV.mp4", "video", duration_s=1.5, orientation=PORTRAIT,
        rungs=("240p", "360p"), display_size=(360, 640))),
    "vfr": (_make_vfr, ZooCase(
        "vfr", "screen capture (vfr).mp4", "video", duration_s=2.0, orientation=LANDSCAPE,
        rungs=("240p",), display_size=(320, 240))),
    "hevc10": (_make_hevc10, ZooCase(
        "hevc10", "hevc-10bit.mp4", "video", duration_s=1.0, orientation=LANDSCAPE,
        rungs=("240p",), display_size=(320, 240))),
    "asf_wmv": (_make_asf, ZooCase(
        "asf_wmv", "课件 old courseware.wmv", "video", duration_s=1.5, orientation=LANDSCAPE,
        rungs=("240p",), display_size=(320, 240))),
    "dvd_vob": (_make_dvd, ZooCase(
        "dvd_vob", "VTS_01_1.VOB", "video", duration_s=1.0, orientation=LANDSCAPE,
        rungs=("240p", "360p"), display_size=(1024, 576), notes={"interlaced": True})),
    "avi_mp3": (_make_avi_mp3, ZooCase(
        "avi_mp3", "lecture.avi", "video", duration_s=1.5, orientation=LANDSCAPE,
        rungs=("240p",), display_size=(320, 240))),
    "webm_vp9": (_make_webm, ZooCase(
        "webm_vp9", "talk.webm", "video", duration_s=1.5, orientation=LANDSCAPE,
        rungs=("240p",), display_size=(320, 240))),
    "mp3_cover": (_make_mp3_cover, ZooCase(
        "mp3_cover", "podcast.mp3", "audio", duration_s=2.0, rungs=("audio",), notes={"cover": True})),
    "mp3_plain": (_make_mp3_plain, ZooCase(
        "mp3_plain", "voice.mp3", "audio", duration_s=1.5, rungs=("audio",))),
    "m4a": (_make_m4a, ZooCase("m4a", "voice.m4a", "audio", duration_s=1.5, rungs=("audio",))),
    "silent_video": (_make_silent_video, ZooCase(
        "silent_video", "no-sound.mp4", "video", duration_s=1.5, orientation=LANDSCAPE,
        rungs=("240p",), has_audio=False, display_size=(320, 240))),
    "odd_dims": (_make_odd, ZooCase(
        "odd_dims", "screen 321x241.mp4", "video", duration_s=1.0, orientation=LANDSCAPE,
        rungs=("240p",), display_size=(321, 241))),
    "uhd_4k": (_make_4k, ZooCase(
        "uhd_4k", "4k.mp4", "video", duration_s=1.0, orientation=LANDSCAPE,
        rungs=("240p", "360p", "720p", "1080p"), display_size=(3840, 2160))),
    "hd_720p": (_make_hd, ZooCase(
        "hd_720p", "hd.mp4", "video", duration_s=1.0, orientation=LANDSCAPE,
        rungs=("240p", "360p", "720p"), display_size=(1280, 720))),
    "surround_51": (_make_surround, ZooCase(
        "surround_51", "surround.mp4", "video", duration_s=1.5, orientation=LANDSCAPE,
        rungs=("240p",), display_size=(320, 240), notes={"channels": 6})),
    "mkv_as_mp4": (_make_mkv_as_mp4, ZooCase(
        "mkv_as_mp4", "really-matroska.mp4", "video", duration_s=1.5, orientation=LANDSCAPE,
        rungs=("240p",), display_size=(320, 240))),
    "pdf_handout": (_make_pdf, ZooCase("pdf_handout", "handout.pdf", "document")),
    # broken ones
    "truncated": (_make_truncated, ZooCase("truncated", "cut-short.mp4", None, reason="truncated")),
    "truncated_faststart": (_make_truncated_faststart, ZooCase(
        "truncated_faststart", "cut-short-faststart.mp4", None, reason="truncated")),
    "corrupt_middle": (_make_corrupt_middle, ZooCase(
        "corrupt_middle", "damaged.mp4", None, reason="corrupt")),
    "random_bytes": (_make_random, ZooCase("random_bytes", "random.mp4", None, reason="unknown_type")),
    "empty": (_make_empty, ZooCase("empty", "empty.mp4", None, reason="empty")),
    "hls_as_mp4": (_make_hls_as_mp4, ZooCase("hls_as_mp4", "playlist.mp4", None, reason="playlist")),
    "text_as_mp4": (_make_text_as_mp4, ZooCase("text_as_mp4", "notes.mp4", None, reason="unknown_type")),
    "damaged_pdf": (_make_damaged_pdf, ZooCase("damaged_pdf", "damaged.pdf", None, reason="bad_document")),
    "pageless_pdf": (_make_pageless_pdf, ZooCase("pageless_pdf", "blank.pdf", None, reason="bad_document")),
}

VALID = tuple(name for name, (_, case) in RECIPES.items() if case.is_valid)
BROKEN = tuple(name for name, (_, case) in RECIPES.items() if not case.is_valid)


class Zoo:
    """The generated files of the zoo, made on first use and cached on disk."""

    def __init__(self, root: Path, ffmpeg: str):
        self.root = root
        self.ffmpeg = ffmpeg
        self.root.mkdir(parents=True, exist_ok=True)

    def case(self, name: str) -> ZooCase:
        return RECIPES[name][1]

    def path(self, name: str) -> Path:
        """Return the path of the case's file, making it when it is not there yet."""
        recipe, case = RECIPES[name]
        folder = self.root / name
        target = folder / "file.bin"
        if target.exists():
            return target
        folder.mkdir(parents=True, exist_ok=True)
        with open(self.root / f".{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if target.exists():
                return target
            work = Path(tempfile.mkdtemp(dir=folder))
            try:
                produced = work / "file.bin"
                recipe(self.ffmpeg, produced)
                for extra in work.iterdir():  # e.g. the segment a playlist points at
                    if extra != produced:
                        os.replace(extra, folder / extra.name)
                os.replace(produced, target)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        return target

    def copy_as(self, name: str, dest_dir: Path) -> Path:
        """Copy the case's file into dest_dir under its (misleading) upload name."""
        dest = Path(dest_dir) / RECIPES[name][1].filename
        shutil.copyfile(self.path(name), dest)
        return dest


def zoo_root(ffmpeg: str) -> Path:
    """Return the cache folder for this zoo version and ffmpeg binary."""
    override = os.environ.get("MEDIA_ZOO_DIR")
    if override:
        return Path(override)
    tag = hashlib.sha256(f"{ZOO_VERSION}:{os.path.realpath(ffmpeg)}".encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"xueshi-media-zoo-{tag}"
