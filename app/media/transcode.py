"""Turn a probed source into web renditions with one ffmpeg process.

The video ladder is one command: the source is decoded once, deinterlaced if
needed, set to a constant frame rate and `split` to every rung; each rung is
scaled by its short side (so portrait works), never upscaled, to even
dimensions with square pixels (rotation is baked in by ffmpeg's autorotate and
the sample aspect by scaling to the display size), and encoded as H.264 with
a capped bitrate, a keyframe every 2 s, stereo AAC, as fragmented MP4 (a fragment per
keyframe, with a `sidx` index up front: see FRAGMENTED_MP4).
An audio-only source becomes one AAC `.m4a` plus a poster (its cover art, or a
picture of its waveform) in one command too.

Every output is written under a temporary `.part` name, checked by probing it
again, and renamed when whole. Lowest rung first: for a long source
(`early_rung_min_s`), a quick first pass makes the 240p rung alone so the
lesson plays within minutes, then one pass makes every other rung; for shorter
sources the single pass finishes soon enough, and the rungs are handed over
lowest first. Progress comes from `-progress pipe:1`.
"""
from __future__ import annotations

import ctypes
import math
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Callable

from app.media.probe import (FORMAT_WHITELIST, ProbeError, ProbeResult, Tools, check_pdf, clean_stderr,
                             count_decode_errors, is_partial_file, probe_file)


class TranscodeError(ProbeError):
    """The transcode failed; `code` is a probe reason code, `detail` ffmpeg's words."""


class Cancelled(Exception):
    """Raised by a progress callback to stop the running ffmpeg."""


@dataclass(frozen=True)
class Rung:
    """One step of the ladder, named by its short side."""

    label: str
    short_side: int
    video_bitrate: int  # bits/s, the cap (maxrate)
    audio_bitrate: int  # bits/s
    profile: str


LADDER = (
    Rung("240p", 240, 300_000, 64_000, "main"),
    Rung("360p", 360, 600_000, 96_000, "main"),
    Rung("720p", 720, 1_800_000, 128_000, "high"),
    Rung("1080p", 1080, 3_500_000, 128_000, "high"),
)
#: a source this close below a rung still gets it (at its own size, not upscaled): 1920×1072 → 1080p
RUNG_TOLERANCE = 0.95
AUDIO_ONLY_BITRATE = 128_000
POSTER_MAX = (1280, 720)
THUMB_WIDTH = 320


@dataclass(frozen=True)
class Target:
    """A rendition to make: a rung at a computed size."""

    rung: Rung
    width: int
    height: int
    has_audio: bool

    @property
    def label(self) -> str:
        return self.rung.label

    @property
    def filename(self) -> str:
        return f"{self.rung.label}.mp4"

    @property
    def bitrate(self) -> int:
        """Return the nominal cap a player should budget: video maxrate plus audio."""
        return self.rung.video_bitrate + (self.rung.audio_bitrate if self.has_audio else 0)


#: x264's presets, fastest first
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")


@dataclass(frozen=True)
class Settings:
    """Encoder settings; `from_config` reads them from the app config."""

    #: x264 preset of the small rungs (240p, 360p): cheap to encode, so spend effort on quality
    preset: str = "veryfast"
    #: x264 preset of the large rungs (720p, 1080p), which cost most of the time; the faster of the two wins
    preset_hd: str = "superfast"
    crf: int = 23
    max_fps: int = 30
    #: a source at least this long gets a quick 240p first pass; negative: never
    early_rung_min_s: float = 300.0
    timeout_factor: float = 8.0
    min_timeout_s: float = 600.0
    stall_timeout_s: float = 120.0
    probe_timeout_s: float = 60.0
    #: decoder errors tolerated before a source counts as damaged: base + per minute of media
    decode_errors_base: int = 10
    decode_errors_per_minute: float = 1.0

    @classmethod
    def from_config(cls, config) -> "Settings":
        defaults = cls()

        def get(key: str, name: str, kind):
            value = config.get(key)
            return getattr(defaults, name) if value in (None, "") else kind(value)

        return cls(
            preset=get("MEDIA_X264_PRESET", "preset", str),
            preset_hd=get("MEDIA_X264_PRESET_HD", "preset_hd", str),
            crf=get("MEDIA_X264_CRF", "crf", int),
            max_fps=get("MEDIA_MAX_FPS", "max_fps", int),
            early_rung_min_s=get("MEDIA_EARLY_RUNG_MIN_S", "early_rung_min_s", float),
            timeout_factor=get("MEDIA_TRANSCODE_TIMEOUT_FACTOR", "timeout_factor", float),
            min_timeout_s=get("MEDIA_TRANSCODE_MIN_TIMEOUT_S", "min_timeout_s", float),
            stall_timeout_s=get("MEDIA_STALL_TIMEOUT_S", "stall_timeout_s", float),
            probe_timeout_s=get("MEDIA_PROBE_TIMEOUT_S", "probe_timeout_s", float),
            decode_errors_base=get("MEDIA_DECODE_ERRORS_BASE", "decode_errors_base", int),
            decode_errors_per_minute=get("MEDIA_DECODE_ERRORS_PER_MINUTE", "decode_errors_per_minute", float),
        )

    def preset_for(self, rung: Rung) -> str:
        """Return the x264 preset of a rung: the HD preset for 720p and up, unless the base one is faster."""
        if rung.short_side < 720:
            return self.preset
        order = {name: i for i, name in enumerate(X264_PRESETS)}
        return min((self.preset, self.preset_hd), key=lambda name: order.get(name, len(order)))

    def timeout_for(self, duration_s: float | None) -> float:
        return max(self.min_timeout_s, (duration_s or 0) * self.timeout_factor)

    def decode_error_limit(self, duration_s: float | None) -> int:
        return self.decode_errors_base + int((duration_s or 0) / 60.0 * self.decode_errors_per_minute)


# --- planning (pure) ---------------------------------------------------------------------------------

def _even(value: float) -> int:
    return max(2, int(round(value / 2.0)) * 2)


def _even_floor(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def plan_ladder(display_w: int, display_h: int, has_audio: bool, ladder: tuple[Rung, ...] = LADDER) -> list[Target]:
    """Return the rungs a source of this displayed size gets, lowest first, none upscaled."""
    short, long_ = min(display_w, display_h), max(display_w, display_h)
    portrait = display_h > display_w
    targets = []
    for rung in ladder:
        if short < rung.short_side * RUNG_TOLERANCE and not (rung is ladder[0]):
            continue
        out_short = min(rung.short_side, _even_floor(short)) if short >= rung.short_side * RUNG_TOLERANCE \
            else _even_floor(short)
        out_long = _even(out_short * long_ / short)
        width, height = (out_short, out_long) if portrait else (out_long, out_short)
        targets.append(Target(rung, width, height, has_audio))
    return targets


def output_fps(source_fps: float | None, max_fps: int) -> Fraction:
    """Return the constant frame rate of the renditions: the source's, at most max_fps."""
    if not source_fps or source_fps <= 0 or not math.isfinite(source_fps):
        return Fraction(25)
    for ntsc in (24, 30, 60):  # 23.976, 29.97, 59.94 are stored rounded
        if abs(source_fps - ntsc * 1000 / 1001) < 0.005:
            return min(Fraction(ntsc * 1000, 1001), Fraction(max_fps))
    fps = Fraction(source_fps).limit_denominator(1001)
    return min(fps, Fraction(max_fps))


def plan_targets(probe: ProbeResult) -> list[Target]:
    """Return the video rungs for a probed source (empty for audio-only)."""
    size = probe.display_size
    if probe.kind != "video" or size is None:
        return []
    return plan_ladder(size[0], size[1], probe.has_audio)


# --- commands (pure) -----------------------------------------------------------------------------------

def _input_args(source: Path, probe: ProbeResult) -> list[str]:
    return ["-protocol_whitelist", "file", "-format_whitelist", ",".join(FORMAT_WHITELIST),
            "-f", probe.demuxer, "-i", str(source)]


def _common_args() -> list[str]:
    return ["-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats", "-progress", "pipe:1",
            "-stats_period", "0.5"]


def _audio_args(source_rate: int | None, bitrate: int) -> list[str]:
    args = ["-c:a", "aac", "-b:a", str(bitrate), "-ac", "2"]
    if source_rate not in (44100, 48000):
        args += ["-ar", "48000"]
    return args


#: Fragmented MP4 for the Media Source player: the moov (no samples) first, then one fragment
#: (moof + mdat) per keyframe, i.e. every 2 s, and a `sidx` per track right after the moov that
#: maps time to byte ranges, so the player fetches only the fragments it is about to play.
#: Plain `video.src` plays the same file (fallback without Media Source).
FRAGMENTED_MP4 = ("-movflags", "+frag_keyframe+empty_moov+default_base_moof+global_sidx")
#: audio has no keyframes to cut at (every frame is one): a fragment every 2 s
FRAGMENTED_AUDIO = ("-movflags", "+empty_moov+default_base_moof+global_sidx")
AUDIO_FRAGMENT_US = 2_000_000


def part_name(filename: str) -> str:
    return filename + ".part"


def ladder_command(source: Path, probe: ProbeResult, targets: list[Target], out_dir: Path, settings: Settings,
                   tools: Tools, preset: str | None = None) -> list[str]:
    """Return the one ffmpeg command that makes every target from one decode of the source."""
    video = probe.video
    fps = output_fps(video.fps if video else None, settings.max_fps)
    gop = max(1, int(round(float(fps) * 2)))
    pre = []
    if video is not None and video.is_interlaced:
        pre.append("bwdif=mode=send_frame:parity=auto:deint=all")
    pre.append(f"fps={fps.numerator}/{fps.denominator}")
    n = len(targets)
    chains = [f"[0:{video.index}]" + ",".join(pre) + (f",split={n}" if n > 1 else "")
              + "".join(f"[s{i}]" for i in range(n))]
    for i, target in enumerate(targets):
        chains.append(f"[s{i}]scale={target.width}:{target.height}:flags=bicubic,setsar=1,format=yuv420p[v{i}]")
    cmd = [tools.ffmpeg, *_common_args(), *_input_args(source, probe), "-filter_complex", ";".join(chains)]
    audio = probe.audio
    for i, target in enumerate(targets):
        rung = target.rung
        cmd += ["-map", f"[v{i}]"]
        if audio is not None:
            cmd += ["-map", f"0:{audio.index}", *_audio_args(audio.sample_rate, rung.audio_bitrate)]
        cmd += [
            "-c:v", "libx264", "-preset", preset or settings.preset_for(rung), "-crf", str(settings.crf),
            "-maxrate", str(rung.video_bitrate), "-bufsize", str(rung.video_bitrate * 2),
            "-profile:v", rung.profile, "-pix_fmt", "yuv420p",
            "-g", str(gop), "-keyint_min", str(min(gop, max(1, gop // 2))),
            "-force_key_frames", "expr:gte(t,n_forced*2)",
            "-map_metadata", "-1", "-map_chapters", "-1", "-sn", "-dn",
            "-max_muxing_queue_size", "4096", *FRAGMENTED_MP4, "-f", "mp4",
            str(out_dir / part_name(target.filename)),
        ]
    return cmd


_WAVE_BACKGROUND = 30  # dark slate behind a light waveform


def audio_command(source: Path, probe: ProbeResult, out_dir: Path, tools: Tools) -> list[str]:
    """Return the command that makes audio.m4a, poster.jpg and thumb.jpg from an audio-only source."""
    audio = probe.audio
    cover = probe.cover
    w, h = POSTER_MAX
    if cover is not None:
        picture = (f"[0:{cover.index}]scale=w='min({w},iw)':h=-2,setsar=1,format=yuvj420p,split=2[poster][t];"
                   f"[t]scale={THUMB_WIDTH}:-2,format=yuvj420p[thumb]")
    else:
        alpha = "alpha(X,Y)/255"
        blend = "{c}(X,Y)*" + alpha + f"+{_WAVE_BACKGROUND}*(1-{alpha})"
        picture = (f"[0:{audio.index}]showwavespic=s={w}x{h}:colors=0x93c5fd,format=rgba,"
                   f"geq=r='{blend.format(c='r')}':g='{blend.format(c='g')}':b='{blend.format(c='b')}':a=255,"
                   f"format=yuvj420p,split=2[poster][t];[t]scale={THUMB_WIDTH}:-2,format=yuvj420p[thumb]")
    image = ["-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-f", "image2", "-update", "1"]
    return [
        tools.ffmpeg, *_common_args(), *_input_args(source, probe), "-filter_complex", picture,
        "-map", f"0:{audio.index}", "-vn", *_audio_args(audio.sample_rate, AUDIO_ONLY_BITRATE),
        "-map_metadata", "-1", "-map_chapters", "-1", *FRAGMENTED_AUDIO, "-frag_duration", str(AUDIO_FRAGMENT_US),
        "-f", "mp4", str(out_dir / part_name("audio.m4a")),
        "-map", "[poster]", *image, str(out_dir / part_name("poster.jpg")),
        "-map", "[thumb]", *image, str(out_dir / part_name("thumb.jpg")),
    ]


def poster_command(rendition: Path, duration_s: float, out_dir: Path, tools: Tools) -> list[str]:
    """Return the command that grabs poster.jpg and thumb.jpg from a finished rendition."""
    at = min(max(0.0, duration_s * 0.1), 30.0)
    image = ["-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-f", "image2", "-update", "1"]
    return [
        tools.ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", "-ss", f"{at:.3f}", "-i", str(rendition),
        "-filter_complex", f"[0:v:0]format=yuvj420p,split=2[poster][t];[t]scale={THUMB_WIDTH}:-2[thumb]",
        "-map", "[poster]", *image, str(out_dir / part_name("poster.jpg")),
        "-map", "[thumb]", *image, str(out_dir / part_name("thumb.jpg")),
    ]


# --- running ffmpeg ----------------------------------------------------------------------------------

def parse_progress(lines: list[str]) -> tuple[float | None, bool]:
    """Return (seconds of output done, is_end) from a block of `-progress` key=value lines."""
    seconds, ended = None, False
    for line in lines:
        key, _, value = line.strip().partition("=")
        if key in ("out_time_us", "out_time_ms") and value.strip().lstrip("-").isdigit():
            seconds = max(0.0, int(value) / 1_000_000)  # both are microseconds (a historic misnomer)
        elif key == "out_time" and seconds is None and ":" in value:
            h, m, s = value.strip().split(":")
            try:
                seconds = max(0.0, int(h) * 3600 + int(m) * 60 + float(s))
            except ValueError:
                pass
        elif key == "progress":
            ended = value.strip() == "end"
    return seconds, ended


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask Linux to kill ffmpeg when the worker that started it dies (no orphan keeps writing)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:
            pass


@dataclass
class RunOutcome:
    """What one ffmpeg run left behind."""

    returncode: int
    stderr: str
    decode_errors: int
    is_partial: bool


ProgressFn = Callable[[float], None]


def run_ffmpeg(cmd: list[str], *, duration_s: float | None, log_path: Path, timeout_s: float,
               stall_timeout_s: float, on_progress: ProgressFn | None = None,
               clean_paths: tuple = ()) -> RunOutcome:
    """Run ffmpeg, reporting progress (0..1) as it goes; kill it on timeout, stall or Cancelled."""
    started = last_seen = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                preexec_fn=_die_with_parent)
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        buffer, block = b"", []
        try:
            while True:
                now = time.monotonic()
                if now - started > timeout_s:
                    raise TranscodeError("timeout", f"ffmpeg ran longer than {timeout_s:.0f} s")
                if now - last_seen > stall_timeout_s:
                    raise TranscodeError("timeout", f"ffmpeg made no progress for {stall_timeout_s:.0f} s")
                if not selector.select(timeout=1.0):
                    if proc.poll() is not None:
                        break
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                last_seen = time.monotonic()
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    line = raw.decode("ascii", "replace")
                    block.append(line)
                    if line.startswith("progress="):
                        seconds, _ = parse_progress(block)
                        block = []
                        if on_progress and seconds is not None and duration_s:
                            on_progress(min(1.0, seconds / duration_s))
            proc.wait(timeout=max(5.0, stall_timeout_s))
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            selector.close()
            proc.stdout.close()
    raw_err = log_path.read_bytes()
    text = clean_stderr(raw_err[-200_000:].decode("utf-8", "replace"), *clean_paths)
    return RunOutcome(proc.returncode, text, count_decode_errors(raw_err.decode("utf-8", "replace")),
                      is_partial_file(text))


# --- the whole transcode -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Output:
    """A finished, verified output file in the work folder."""

    role: str  # rendition | poster | thumbnail
    path: Path
    label: str = ""
    width: int = 0
    height: int = 0
    bitrate: int = 0
    duration_s: float = 0.0
    content_type: str = ""

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


@dataclass
class TranscodeResult:
    renditions: list[Output] = field(default_factory=list)
    poster: Output | None = None
    thumbnail: Output | None = None


#: called with each whole rendition; may move the file and return where it is now
OutputFn = Callable[[Output], "Path | None"]


_GENERIC = ("conversion failed", "last message repeated", "error initializing output stream",
            "error while opening encoder", "nothing was written", "error opening output")


def _detail(outcome: RunOutcome) -> str:
    """Return ffmpeg's reason: the first specific error line, else its last line."""
    lines = [line.strip() for line in outcome.stderr.splitlines() if line.strip()]
    for line in lines:
        lowered = line.lower()
        if not any(generic in lowered for generic in _GENERIC):
            return line[:500]
    return lines[-1][:500] if lines else f"ffmpeg exited with status {outcome.returncode}"


def _check_run(outcome: RunOutcome, probe: ProbeResult, settings: Settings) -> None:
    if outcome.is_partial:
        raise TranscodeError("truncated", _detail(outcome))
    if outcome.decode_errors > settings.decode_error_limit(probe.duration_s):
        raise TranscodeError("corrupt", f"{outcome.decode_errors} decoding errors; last: {_detail(outcome)}")
    if outcome.returncode != 0:
        raise TranscodeError("transcode_failed", _detail(outcome))


def _finish(part: Path, tools: Tools, settings: Settings, source: ProbeResult, *, expect_video: Target | None,
            audio_only: bool = False) -> tuple[Path, ProbeResult]:
    """Check an output by probing it, then rename it from .part to its real name."""
    final = part.with_name(part.name[: -len(".part")])
    try:
        result = probe_file(part, tools, timeout_s=settings.probe_timeout_s, check_tail=False)
    except ProbeError as exc:
        raise TranscodeError("transcode_failed", f"{final.name} is not readable: {exc.detail}") from exc
    if expect_video is not None:
        video = result.video
        if video is None or video.codec_name != "h264" or (video.width, video.height) != (
                expect_video.width, expect_video.height) or video.rotation != 0 or video.sar != (1, 1):
            raise TranscodeError("transcode_failed", f"{final.name}: unexpected video {video}")
    if audio_only and (result.audio is None or result.audio.codec_name != "aac"):
        raise TranscodeError("transcode_failed", f"{final.name}: no AAC audio")
    if source.duration_s and result.duration_s is not None and (
            result.duration_s < source.duration_s * 0.9 - 0.3):
        raise TranscodeError("truncated", f"only {result.duration_s:.1f} s of {source.duration_s:.1f} s could be decoded")
    os.replace(part, final)
    return final, result


def _finish_image(part: Path, role: str) -> Output:
    if not part.exists() or part.stat().st_size == 0:
        raise TranscodeError("transcode_failed", f"no {role} picture was made")
    final = part.with_name(part.name[: -len(".part")])
    os.replace(part, final)
    return Output(role=role, path=final, content_type="image/jpeg")


def transcode(source: Path, probe: ProbeResult, work_dir: Path, *, settings: Settings | None = None,
              tools: Tools | None = None, on_progress: ProgressFn | None = None,
              on_output: OutputFn | None = None) -> TranscodeResult:
    """Make every rendition, the poster and the thumbnail of a probed source inside work_dir.

    Renditions are handed to on_output as soon as each is whole, lowest first; on_output may
    move the file away (into storage) and return its new path.
    On failure the .part files are removed and TranscodeError is raised.
    """
    settings = settings or Settings()
    tools = tools or Tools.resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        if probe.kind == "video":
            return _transcode_video(source, probe, work_dir, settings, tools, on_progress, on_output)
        if probe.kind == "audio":
            return _transcode_audio(source, probe, work_dir, settings, tools, on_progress, on_output)
        raise TranscodeError("unknown_type", f"nothing to transcode for a {probe.kind}")
    finally:
        for leftover in work_dir.glob("*.part"):
            leftover.unlink(missing_ok=True)


def _scaled(on_progress: ProgressFn | None, start: float, share: float) -> ProgressFn | None:
    if on_progress is None:
        return None
    return lambda fraction: on_progress(start + share * fraction)


def _transcode_video(source, probe, work_dir, settings, tools, on_progress, on_output) -> TranscodeResult:
    targets = plan_targets(probe)
    result = TranscodeResult()
    passes: list[tuple[list[Target], str | None, float, float]]
    early = 0 <= settings.early_rung_min_s <= (probe.duration_s or 0) and len(targets) > 1
    if early:
        # The quick pass makes the lowest rung only, with the fastest preset, so it is soon playable.
        passes = [(targets[:1], "ultrafast", 0.0, 0.2), (targets[1:], None, 0.2, 0.75)]
    else:
        passes = [(targets, None, 0.0, 0.95)]
    for group, preset, start, share in passes:
        cmd = ladder_command(source, probe, group, work_dir, settings, tools, preset=preset)
        outcome = run_ffmpeg(cmd, duration_s=probe.duration_s, log_path=work_dir / "ffmpeg.log",
                             timeout_s=settings.timeout_for(probe.duration_s),
                             stall_timeout_s=settings.stall_timeout_s, on_progress=_scaled(on_progress, start, share),
                             clean_paths=(source, work_dir))
        _check_run(outcome, probe, settings)
        for target in group:  # lowest first
            final, checked = _finish(work_dir / part_name(target.filename), tools, settings, probe,
                                     expect_video=target)
            output = Output(role="rendition", path=final, label=target.label, width=target.width,
                            height=target.height, bitrate=target.bitrate,
                            duration_s=checked.duration_s or 0.0, content_type="video/mp4")
            if on_output:
                moved = on_output(output)
                if moved is not None:
                    output = replace(output, path=Path(moved))
            result.renditions.append(output)
    top = result.renditions[-1]
    cmd = poster_command(top.path, top.duration_s, work_dir, tools)
    outcome = run_ffmpeg(cmd, duration_s=None, log_path=work_dir / "poster.log", timeout_s=settings.min_timeout_s,
                         stall_timeout_s=settings.stall_timeout_s, clean_paths=(work_dir,))
    if outcome.returncode != 0:
        raise TranscodeError("transcode_failed", _detail(outcome))
    result.poster = _finish_image(work_dir / part_name("poster.jpg"), "poster")
    result.thumbnail = _finish_image(work_dir / part_name("thumb.jpg"), "thumbnail")
    if on_progress:
        on_progress(1.0)
    return result


def _transcode_audio(source, probe, work_dir, settings, tools, on_progress, on_output) -> TranscodeResult:
    cmd = audio_command(source, probe, work_dir, tools)
    outcome = run_ffmpeg(cmd, duration_s=probe.duration_s, log_path=work_dir / "ffmpeg.log",
                         timeout_s=settings.timeout_for(probe.duration_s), stall_timeout_s=settings.stall_timeout_s,
                         on_progress=_scaled(on_progress, 0.0, 0.95), clean_paths=(source, work_dir))
    _check_run(outcome, probe, settings)
    final, checked = _finish(work_dir / part_name("audio.m4a"), tools, settings, probe, expect_video=None,
                             audio_only=True)
    output = Output(role="rendition", path=final, label="audio", bitrate=AUDIO_ONLY_BITRATE,
                    duration_s=checked.duration_s or 0.0, content_type="audio/mp4")
    if on_output:
        moved = on_output(output)
        if moved is not None:
            output = replace(output, path=Path(moved))
    result = TranscodeResult(renditions=[output])
    result.poster = _finish_image(work_dir / part_name("poster.jpg"), "poster")
    result.thumbnail = _finish_image(work_dir / part_name("thumb.jpg"), "thumbnail")
    if on_progress:
        on_progress(1.0)
    return result


# --------------------------------------------------------------------------------------- documents


def which_soffice(configured: str | None = None) -> str | None:
    """Return LibreOffice's `soffice` (the configured path, else the one on PATH), or None."""
    import shutil

    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert_to_pdf(source: Path, work_dir: Path, soffice: str, timeout_s: float = 300.0) -> tuple[Path, int]:
    """Convert slides or a Word document to PDF with LibreOffice headless; return (the PDF, its page count).

    LibreOffice gets a profile of its own in the work folder, so two jobs never share (and lock) one.
    Raises TranscodeError("bad_document") when it makes no readable PDF.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    profile = work_dir / "lo-profile"
    out_dir = work_dir / "pdf"
    out_dir.mkdir(exist_ok=True)
    cmd = [soffice, f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless", "--norestore",
           "--convert-to", "pdf", "--outdir", str(out_dir), str(source)]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise TranscodeError("timeout", "LibreOffice took too long to convert the document") from exc
    made = out_dir / (source.stem + ".pdf")
    if done.returncode != 0 or not made.exists():
        words = clean_stderr((done.stderr or b"").decode("utf-8", "replace"), source, work_dir)
        raise TranscodeError("bad_document", f"LibreOffice made no PDF: {words}"[:500])
    return made, check_pdf(made)
