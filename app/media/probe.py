"""Find out what an uploaded file really is, by its content, never by its name.

`probe_file` sniffs the first bytes (puremagic) to spot documents and
playlists, then asks ffprobe — or, when only imageio-ffmpeg's ffmpeg exists,
parses the banner of `ffmpeg -i` — under a timeout, with the `file` protocol
only and a whitelist of demuxers. A playlist (HLS/M3U8) is therefore refused,
never followed, whatever the file is called, and so is anything that is not
one of the audio/video containers we know. A cheap decode of the last seconds
spots most files that were cut short.

Failures raise `ProbeError` with a reason code; `reason_message(code)` gives the
translated sentence shown to staff, `ProbeError.detail` the technical line.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

from flask_babel import lazy_gettext as _l

#: Demuxers allowed to open an upload. Each name matches ffmpeg's demuxer list entry
#: ("mov" stands for "mov,mp4,m4a,3gp,3g2,mj2", "matroska" for "matroska,webm").
#: Not listed on purpose: hls, concat, image2 and other demuxers that open further files.
FORMAT_WHITELIST = (
    "mov", "matroska", "avi", "asf", "mpeg", "mpegts", "flv", "rm", "mp3", "aac", "wav", "flac", "ogg", "amr",
)

#: reason code -> message for staff (English source, translated by Babel)
REASONS = {
    "empty": _l("The file is empty. Choose the file again and upload it once more."),
    "playlist": _l(
        "This is a streaming playlist (HLS/M3U8), not a media file. Upload the video file itself."
    ),
    "unknown_type": _l(
        "This file is not a video, an audio recording or a document we can use. Upload a video "
        "(MP4, MOV, MKV, WebM, AVI, WMV, MPEG/VOB, FLV, RMVB), an audio file (MP3, M4A, WAV) or a "
        "document (PDF, Word, PowerPoint)."
    ),
    "unreadable": _l(
        "The file could not be read as audio or video: it may be damaged. Export or copy it again "
        "from the original and upload that."
    ),
    "truncated": _l(
        "The file is incomplete: it ends before its audio or video does. The upload or the copy was "
        "probably cut short; upload the complete file."
    ),
    "corrupt": _l(
        "The file is damaged: parts of its audio or video cannot be decoded. Export or copy it again "
        "from the original and upload that."
    ),
    "no_streams": _l("The file contains no audio and no video."),
    "unsupported_codec": _l(
        "The file's video or audio is stored in a format (codec) this server cannot decode. Convert it "
        "to MP4 (H.264/AAC) and upload it again."
    ),
    "bad_document": _l("The document could not be opened: it may be damaged or password-protected."),
    "timeout": _l(
        "Reading the file took too long. It may be damaged; if it is very large, ask the site "
        "administrator to raise the time limit."
    ),
    "transcode_failed": _l("Converting the file for the web failed."),
    "worker_lost": _l("The conversion was interrupted because the worker stopped. Retry it."),
    "superseded": _l("A newer attempt replaced this one."),
    "tool_missing": _l("The server cannot convert media: ffmpeg is not installed. Tell the site administrator."),
}


def reason_message(code: str | None) -> str:
    """Return the translated sentence for a reason code (the code itself if unknown)."""
    if not code:
        return ""
    message = REASONS.get(code)
    return str(message) if message is not None else code


class ProbeError(Exception):
    """A file the pipeline refuses, with a reason code and ffmpeg's own words."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail

    @property
    def message(self) -> str:
        return reason_message(self.code)


@dataclass(frozen=True)
class Tools:
    """The ffmpeg binaries to use; ffprobe is None when only imageio-ffmpeg exists."""

    ffmpeg: str
    ffprobe: str | None = None

    @classmethod
    def resolve(cls) -> "Tools":
        """Return the configured binaries (app config, then app.common.ffmpeg's search)."""
        ffmpeg = ffprobe = None
        try:
            from flask import current_app, has_app_context

            if has_app_context():
                ffmpeg = current_app.config.get("FFMPEG_BINARY")
                ffprobe = current_app.config.get("FFPROBE_BINARY")
        except ImportError:  # pragma: no cover - flask is always installed
            pass
        from app.common import ffmpeg as binaries

        if not ffmpeg:
            try:
                ffmpeg = binaries.ffmpeg_binary()
            except RuntimeError as exc:
                raise ProbeError("tool_missing", str(exc)) from exc
        if not ffprobe:
            ffprobe = binaries.ffprobe_binary()
        return cls(ffmpeg=ffmpeg, ffprobe=ffprobe)


@dataclass(frozen=True)
class Stream:
    """One stream of a probed file, as the pipeline needs it."""

    index: int
    codec_type: str  # video | audio | subtitle | data | attachment
    codec_name: str | None = None
    width: int | None = None
    height: int | None = None
    #: sample aspect ratio (pixel shape) as (num, den); (1, 1) when square or unknown
    sar: tuple[int, int] = (1, 1)
    #: clockwise degrees a player must turn the picture: 0, 90, 180 or 270
    rotation: int = 0
    #: progressive, tt, bb, tb, bt or unknown
    field_order: str = "unknown"
    fps: float | None = None
    pix_fmt: str | None = None
    is_attached_pic: bool = False
    channels: int | None = None
    sample_rate: int | None = None
    duration_s: float | None = None

    @property
    def is_interlaced(self) -> bool:
        return self.field_order in ("tt", "bb", "tb", "bt")


@dataclass(frozen=True)
class ProbeResult:
    """What a file is: its kind, container, duration and streams."""

    kind: str  # video | audio | document
    #: ffmpeg's demuxer name ("mov,mp4,m4a,3gp,3g2,mj2") or the document type ("pdf", "docx")
    format_name: str
    #: MIME type decided from the content
    content_type: str
    #: file extension to store the source under, decided from the content
    extension: str
    size_bytes: int
    duration_s: float | None = None
    streams: tuple[Stream, ...] = field(default_factory=tuple)
    #: pages of a PDF (None for anything else)
    page_count: int | None = None

    @property
    def video(self) -> Stream | None:
        """Return the main picture stream (cover art is not one)."""
        return next((s for s in self.streams if s.codec_type == "video" and not s.is_attached_pic), None)

    @property
    def audio(self) -> Stream | None:
        return next((s for s in self.streams if s.codec_type == "audio"), None)

    @property
    def cover(self) -> Stream | None:
        """Return the cover art (an attached picture), if any."""
        return next((s for s in self.streams if s.codec_type == "video" and s.is_attached_pic), None)

    @property
    def has_video(self) -> bool:
        return self.video is not None

    @property
    def has_audio(self) -> bool:
        return self.audio is not None

    @property
    def display_size(self) -> tuple[int, int] | None:
        """Return (width, height) as shown: sample aspect and rotation applied."""
        video = self.video
        if video is None or not video.width or not video.height:
            return None
        return display_size(video.width, video.height, video.sar, video.rotation)

    @property
    def demuxer(self) -> str:
        """Return a name that `ffmpeg -f` accepts for this container."""
        return self.format_name.split(",")[0]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["streams"] = [asdict(s) for s in self.streams]
        return data


def display_size(width: int, height: int, sar: tuple[int, int], rotation: int) -> tuple[int, int]:
    """Return the displayed size of a picture of width × height pixels."""
    num, den = sar
    if num > 0 and den > 0 and num != den:
        if num > den:
            width = int(round(width * num / den))
        else:
            height = int(round(height * den / num))
    if rotation in (90, 270):
        width, height = height, width
    return width, height


# --- sniffing -----------------------------------------------------------------------------------

_PDF = ("pdf", "application/pdf")
_DOCUMENTS = {
    ".pdf": _PDF,
    ".docx": ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ".pptx": ("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ".doc": ("doc", "application/msword"),
    ".ppt": ("ppt", "application/vnd.ms-powerpoint"),
    ".odt": ("odt", "application/vnd.oasis.opendocument.text"),
    ".odp": ("odp", "application/vnd.oasis.opendocument.presentation"),
}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Sniff:
    """What the first bytes of a file say it is (None when they say nothing we know)."""

    extension: str | None
    mime: str | None


def sniff(path: Path) -> Sniff:
    """Guess the type of a file from its content with puremagic."""
    try:
        import puremagic

        matches = puremagic.magic_file(str(path))
    except Exception:  # puremagic raises on empty or unknown content
        return Sniff(None, None)
    if not matches:
        return Sniff(None, None)
    best = matches[0]
    return Sniff(best.extension.lower() or None, best.mime_type or None)


def looks_like_playlist(head: bytes) -> bool:
    """Tell whether bytes start an M3U/HLS playlist (or a similar text manifest)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"#EXTM3U") or b"#EXT-X-" in head or text.startswith(b"ffconcat")


def _document_type(path: Path, head: bytes, sniffed: Sniff) -> tuple[str, str] | None:
    """Return (type, mime) when the content is a document we accept, else None."""
    if head.startswith(b"%PDF-"):
        return _PDF
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                mimetype = archive.read("mimetype").decode("ascii", "replace").strip() if "mimetype" in names else ""
        except (zipfile.BadZipFile, OSError, KeyError):
            return None
        if any(n.startswith("word/") for n in names):
            return _DOCUMENTS[".docx"]
        if any(n.startswith("ppt/") for n in names):
            return _DOCUMENTS[".pptx"]
        if mimetype == _DOCUMENTS[".odt"][1]:
            return _DOCUMENTS[".odt"]
        if mimetype == _DOCUMENTS[".odp"][1]:
            return _DOCUMENTS[".odp"]
        return None
    if head.startswith(_OLE_MAGIC) and sniffed.extension in (".doc", ".ppt"):
        return _DOCUMENTS[sniffed.extension]
    return None


def check_pdf(path: Path) -> int:
    """Return the page count of a PDF the reader can show; ProbeError("bad_document") otherwise.

    A PDF must open (pypdf, without a password) and have at least one page.
    pypdf raises many kinds of errors on damaged files, so any error refuses it.
    """
    import pypdf

    try:
        with open(path, "rb") as handle:  # a stream, so no error names the server's path
            reader = pypdf.PdfReader(handle)
            if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
                raise ProbeError("bad_document", "the PDF needs a password")
            pages = len(reader.pages)
    except ProbeError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf's errors on damaged input are of many types
        raise ProbeError("bad_document", f"{type(exc).__name__}: {exc}"[:500]) from exc
    if pages < 1:
        raise ProbeError("bad_document", "the PDF has no pages")
    return pages


# --- parsing ffprobe and ffmpeg output (pure) -----------------------------------------------------

def _ratio(text: str | None) -> Fraction | None:
    if not text or text in ("0/0", "N/A"):
        return None
    try:
        value = Fraction(text.replace(":", "/"))
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _float(value) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _normal_rotation(degrees: float) -> int:
    """Turn a display-matrix angle (counter-clockwise, ffprobe's sign) into clockwise 0/90/180/270."""
    return int(round(-degrees / 90.0)) % 4 * 90


def parse_ffprobe_json(data: dict) -> tuple[str, float | None, tuple[Stream, ...]]:
    """Return (format_name, duration_s, streams) from `ffprobe -of json -show_format -show_streams`."""
    fmt = data.get("format") or {}
    streams = []
    for raw in data.get("streams") or []:
        rotation = 0
        for side in raw.get("side_data_list") or []:
            if "rotation" in side:
                rotation = _normal_rotation(float(side["rotation"]))
        tags = raw.get("tags") or {}
        if not rotation and tags.get("rotate"):
            rotation = int(round(float(tags["rotate"]) / 90.0)) % 4 * 90
        sar = _ratio(raw.get("sample_aspect_ratio"))
        fps = _ratio(raw.get("r_frame_rate"))
        avg = _ratio(raw.get("avg_frame_rate"))
        if fps is None or fps > 120:
            fps = avg
        streams.append(Stream(
            index=int(raw.get("index", len(streams))),
            codec_type=raw.get("codec_type") or "data",
            codec_name=raw.get("codec_name"),
            width=raw.get("width") or None,
            height=raw.get("height") or None,
            sar=(sar.numerator, sar.denominator) if sar else (1, 1),
            rotation=rotation,
            field_order=raw.get("field_order") or "unknown",
            fps=float(fps) if fps else None,
            pix_fmt=raw.get("pix_fmt"),
            is_attached_pic=bool((raw.get("disposition") or {}).get("attached_pic")),
            channels=raw.get("channels"),
            sample_rate=int(raw["sample_rate"]) if str(raw.get("sample_rate", "")).isdigit() else None,
            duration_s=_float(raw.get("duration")),
        ))
    return fmt.get("format_name") or "", _float(fmt.get("duration")), tuple(streams)


_INPUT_RE = re.compile(r"^Input #0, (?P<fmt>.+?), from '", re.M)
_DURATION_RE = re.compile(r"^\s*Duration: (?:(?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)|N/A)", re.M)
_STREAM_RE = re.compile(
    r"^\s*Stream #0:(?P<index>\d+)(?:\[[^\]]*\])?(?:\([^)]*\))?: (?P<type>Video|Audio|Subtitle|Data|Attachment): "
    r"(?P<rest>.*)$"
)
_ROTATION_RE = re.compile(r"rotation of (?P<deg>-?\d+(?:\.\d+)?) degrees|^\s*rotate\s*: (?P<tag>-?\d+)")
_FIELD_ORDERS = {
    "top first": "tt", "bottom first": "bb", "top coded first (swapped)": "tb",
    "bottom coded first (swapped)": "bt", "progressive": "progressive",
}
_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.1": 6, "6.1": 7, "7.1": 8}


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses or brackets."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if current:
        parts.append("".join(current).strip())
    return parts


def parse_ffmpeg_banner(text: str) -> tuple[str, float | None, tuple[Stream, ...]]:
    """Return (format_name, duration_s, streams) from the stderr of `ffmpeg -i FILE`."""
    match = _INPUT_RE.search(text)
    if not match:
        raise ValueError("no input description in ffmpeg output")
    format_name = match.group("fmt")
    duration = None
    dmatch = _DURATION_RE.search(text)
    if dmatch and dmatch.group("h") is not None:
        duration = int(dmatch.group("h")) * 3600 + int(dmatch.group("m")) * 60 + float(dmatch.group("s"))
    streams: list[dict] = []
    for line in text[match.start():].splitlines():
        smatch = _STREAM_RE.match(line)
        if smatch:
            streams.append(_parse_stream_line(int(smatch.group("index")), smatch.group("type").lower(),
                                              smatch.group("rest")))
            continue
        rmatch = _ROTATION_RE.search(line)
        if rmatch and streams:
            if rmatch.group("deg") is not None:
                streams[-1]["rotation"] = _normal_rotation(float(rmatch.group("deg")))
            else:
                streams[-1]["rotation"] = int(round(float(rmatch.group("tag")) / 90.0)) % 4 * 90
    return format_name, duration, tuple(Stream(**s) for s in streams)


def _parse_stream_line(index: int, codec_type: str, rest: str) -> dict:
    parts = _split_top(rest)
    info: dict = {"index": index, "codec_type": codec_type}
    info["codec_name"] = parts[0].split(" ")[0] if parts else None
    info["is_attached_pic"] = "(attached pic)" in rest
    if codec_type == "video":
        if len(parts) > 1:
            pix = parts[1]
            info["pix_fmt"] = pix.split("(")[0].strip()
            inner = re.findall(r"\(([^()]*(?:\([^()]*\))?[^()]*)\)", pix)
            for group in inner:
                for token in [t.strip() for t in group.split(",")]:
                    if token in _FIELD_ORDERS:
                        info["field_order"] = _FIELD_ORDERS[token]
        for part in parts[1:]:
            size = re.match(r"^(\d+)x(\d+)", part)
            if size and "width" not in info:
                info["width"], info["height"] = int(size.group(1)), int(size.group(2))
            sar = re.search(r"SAR (\d+):(\d+)", part)
            if sar and int(sar.group(1)) > 0 and int(sar.group(2)) > 0:
                info["sar"] = (int(sar.group(1)), int(sar.group(2)))
            fps = re.match(r"^(\d+(?:\.\d+)?)(k?) fps$", part)
            if fps:
                info["fps"] = float(fps.group(1)) * (1000 if fps.group(2) else 1)
    elif codec_type == "audio":
        for part in parts[1:]:
            rate = re.match(r"^(\d+) Hz$", part)
            if rate:
                info["sample_rate"] = int(rate.group(1))
                continue
            layout = part.split("(")[0].strip()
            if layout in _LAYOUT_CHANNELS:
                info["channels"] = _LAYOUT_CHANNELS[layout]
            elif re.match(r"^\d+ channels$", layout):
                info["channels"] = int(layout.split()[0])
    return info


# --- running the tools ----------------------------------------------------------------------------

def _input_guard() -> list[str]:
    return ["-protocol_whitelist", "file", "-format_whitelist", ",".join(FORMAT_WHITELIST)]


def _run(cmd: list[str], timeout_s: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise ProbeError("timeout", f"{os.path.basename(cmd[0])} did not finish within {timeout_s:.0f} s") from exc
    except OSError as exc:
        raise ProbeError("tool_missing", str(exc)) from exc


def clean_stderr(text: str, *paths: str | os.PathLike) -> str:
    """Drop file paths and memory addresses from ffmpeg's messages before showing them."""
    for path in paths:
        text = text.replace(str(path), "input")
    return re.sub(r" @ 0x[0-9a-f]+", "", text)


def _last_line(text: str, prefer: tuple[str, ...] = ()) -> str:
    """Return the most telling line of ffmpeg's stderr: one naming the problem, else the last."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for needle in prefer:
        for line in lines:
            if needle in line.lower():
                return line[:500]
    return lines[-1][:500] if lines else ""


_TELLING = ("moov atom not found", "partial file", "not on whitelist", "invalid data", "no such file")


def classify_failure(stderr: str, sniffed: Sniff) -> ProbeError:
    """Turn the stderr of a failed probe into a ProbeError with the best reason."""
    detail = _last_line(stderr, _TELLING)
    lowered = stderr.lower()
    if "not on whitelist" in lowered:
        if re.search(r"[\[/](hls|applehttp|concat|dash)[\] @]", stderr):
            return ProbeError("playlist", detail)
        return ProbeError("unknown_type", detail)
    if "m3u8" in lowered:
        return ProbeError("playlist", detail)
    if "moov atom not found" in lowered or "partial file" in lowered or "truncat" in lowered:
        return ProbeError("truncated", detail)
    if sniffed.extension is None or not (sniffed.mime or "").startswith(("video/", "audio/")):
        return ProbeError("unknown_type", detail)
    return ProbeError("unreadable", detail)


def probe_streams(path: Path, tools: Tools, timeout_s: float, sniffed: Sniff):
    if tools.ffprobe:
        cmd = [tools.ffprobe, "-hide_banner", "-v", "error", *_input_guard(),
               "-show_format", "-show_streams", "-of", "json", "-i", str(path)]
        done = _run(cmd, timeout_s)
        stderr = clean_stderr(done.stderr.decode("utf-8", "replace"), path)
        if done.returncode != 0:
            raise classify_failure(stderr, sniffed)
        try:
            data = json.loads(done.stdout.decode("utf-8", "replace") or "{}")
        except ValueError as exc:
            raise ProbeError("unreadable", "ffprobe printed no JSON") from exc
        return parse_ffprobe_json(data)
    cmd = [tools.ffmpeg, "-hide_banner", "-nostdin", *_input_guard(), "-i", str(path)]
    done = _run(cmd, timeout_s)
    stderr = clean_stderr(done.stderr.decode("utf-8", "replace"), path)
    try:
        return parse_ffmpeg_banner(stderr)
    except ValueError:
        raise classify_failure(stderr, sniffed) from None


_DECODE_ERROR_RE = re.compile(
    r"Error while decoding stream|Error submitting packet to decoder|Decoding error|error while decoding MB",
)


def count_decode_errors(stderr: str) -> int:
    """Count the decoder errors ffmpeg reported (5.x and 7+ wording)."""
    return sum(1 for line in stderr.splitlines() if _DECODE_ERROR_RE.search(line))


def is_partial_file(stderr: str) -> bool:
    """Tell whether ffmpeg's demuxer ran past the end of the data (a cut file)."""
    return "partial file" in stderr or "moov atom not found" in stderr


def _check_tail(path: Path, tools: Tools, result: ProbeResult, timeout_s: float) -> None:
    """Decode the last seconds: a file cut short fails here, cheaply, before any transcoding."""
    if not result.duration_s or result.duration_s <= 0:
        return
    start = max(0.0, result.duration_s - 3.0)
    cmd = [tools.ffmpeg, "-hide_banner", "-nostdin", "-v", "error", *_input_guard(), "-f", result.demuxer,
           "-ss", f"{start:.3f}", "-i", str(path), "-t", "3", "-map", "0:v:0?", "-map", "0:a:0?",
           "-f", "null", "-"]
    done = _run(cmd, timeout_s)
    stderr = clean_stderr(done.stderr.decode("utf-8", "replace"), path)
    if is_partial_file(stderr):
        raise ProbeError("truncated", _last_line(stderr, ("partial file", "moov atom not found")))


def probe_file(path: str | os.PathLike, tools: Tools | None = None, *, timeout_s: float = 60.0,
               check_tail: bool = True) -> ProbeResult:
    """Tell what the file at path is, or raise ProbeError with the reason it cannot be used."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(64 * 1024)
    except OSError as exc:
        raise ProbeError("unreadable", str(exc)) from exc
    if size == 0:
        raise ProbeError("empty")
    if looks_like_playlist(head):
        raise ProbeError("playlist", "the file starts like an M3U/HLS playlist")
    sniffed = sniff(path)
    document = _document_type(path, head, sniffed)
    if document:
        return ProbeResult(kind="document", format_name=document[0], content_type=document[1],
                           extension=document[0], size_bytes=size,
                           page_count=check_pdf(path) if document == _PDF else None)
    if head.startswith(b"PK\x03\x04") or head.startswith(_OLE_MAGIC):
        raise ProbeError("unknown_type", f"content looks like {sniffed.extension or 'an archive'}")
    tools = tools or Tools.resolve()
    format_name, duration, streams = probe_streams(path, tools, timeout_s, sniffed)
    result = _make_result(format_name, duration, streams, size, sniffed)
    if check_tail:
        _check_tail(path, tools, result, timeout_s)
    return result


_CONTAINERS = {
    # demuxer -> (extension, video MIME, audio MIME)
    "mov": ("mp4", "video/mp4", "audio/mp4"),
    "matroska": ("mkv", "video/x-matroska", "audio/x-matroska"),
    "avi": ("avi", "video/x-msvideo", "video/x-msvideo"),
    "asf": ("wmv", "video/x-ms-wmv", "audio/x-ms-wma"),
    "mpeg": ("mpg", "video/mpeg", "audio/mpeg"),
    "mpegts": ("ts", "video/mp2t", "video/mp2t"),
    "flv": ("flv", "video/x-flv", "video/x-flv"),
    "rm": ("rm", "application/vnd.rn-realmedia", "audio/x-pn-realaudio"),
    "mp3": ("mp3", "audio/mpeg", "audio/mpeg"),
    "aac": ("aac", "audio/aac", "audio/aac"),
    "wav": ("wav", "audio/wav", "audio/wav"),
    "flac": ("flac", "audio/flac", "audio/flac"),
    "ogg": ("ogg", "video/ogg", "audio/ogg"),
    "amr": ("amr", "audio/amr", "audio/amr"),
}


def _make_result(format_name: str, duration: float | None, streams: tuple[Stream, ...], size: int,
                 sniffed: Sniff) -> ProbeResult:
    demuxer = format_name.split(",")[0]
    if demuxer not in _CONTAINERS and demuxer not in FORMAT_WHITELIST:
        raise ProbeError("unknown_type", f"container {format_name!r} is not accepted")
    usable = [s for s in streams if s.codec_type in ("video", "audio")]
    if not usable:
        raise ProbeError("no_streams", f"{format_name}: no audio or video stream")
    for stream in usable:
        if not stream.codec_name or stream.codec_name in ("none", "unknown"):
            raise ProbeError("unsupported_codec", f"stream {stream.index} has no decoder")
    if duration is None or duration <= 0:
        known = [s.duration_s for s in usable if s.duration_s]
        duration = max(known) if known else None
    has_picture = any(s.codec_type == "video" and not s.is_attached_pic for s in streams)
    kind = "video" if has_picture else "audio"
    if kind == "video":
        video = next(s for s in streams if s.codec_type == "video" and not s.is_attached_pic)
        if not video.width or not video.height:
            raise ProbeError("unreadable", f"video stream {video.index} has no picture size")
    if duration is None or duration <= 0:
        raise ProbeError("unreadable", "the duration could not be determined")
    extension, video_mime, audio_mime = _CONTAINERS.get(demuxer, ("bin", "application/octet-stream",
                                                                  "application/octet-stream"))
    if demuxer == "matroska" and (sniffed.extension == ".webm" or format_name == "webm"):
        extension, video_mime, audio_mime = "webm", "video/webm", "audio/webm"
    if demuxer == "mov" and kind == "audio":
        extension = "m4a"
    if demuxer == "mov" and sniffed.extension == ".mov":
        extension, video_mime = "mov", "video/quicktime"
    return ProbeResult(
        kind=kind, format_name=format_name, content_type=video_mime if kind == "video" else audio_mime,
        extension=extension, size_bytes=size, duration_s=round(duration, 3), streams=streams,
    )


def which_ffprobe() -> str | None:
    """Return a system ffprobe if there is one (tests use it to pick the probe mode)."""
    return shutil.which("ffprobe")
