"""What a submitted file is, judged by its content (puremagic and our own checks), never by its name.

No Flask and no database here: a file object in, a FileType or a Refusal out.
"""
import re
import stat
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

import puremagic

#: the kinds an assignment may allow, and the types of each (the extension we store the file under)
KINDS: dict[str, tuple[str, ...]] = {
    "documents": ("pdf", "docx", "xlsx", "pptx", "doc", "xls", "ppt", "odt", "ods", "odp"),
    "images": ("jpg", "png", "gif", "webp"),
    "audio": ("mp3", "m4a", "wav", "ogg"),
    "video": ("mp4", "mov", "webm"),
    "archives": ("zip",),
}
MIME = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "doc": "application/msword", "xls": "application/vnd.ms-excel", "ppt": "application/vnd.ms-powerpoint",
    "odt": "application/vnd.oasis.opendocument.text", "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
    "mp3": "audio/mpeg", "m4a": "audio/mp4", "wav": "audio/wav", "ogg": "audio/ogg",
    "mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm",
    "zip": "application/zip",
}
#: the file name endings each type may carry (a name ending otherwise is refused as disguised)
NAME_ENDINGS = {
    "jpg": ("jpg", "jpeg", "jfif"), "doc": ("doc", "wps", "dot"), "xls": ("xls", "et"), "ppt": ("ppt", "dps", "pps"),
    "m4a": ("m4a", "aac"), "ogg": ("ogg", "oga", "opus"), "mov": ("mov", "qt"), "mp4": ("mp4", "m4v"),
    "docx": ("docx",), "xlsx": ("xlsx",), "pptx": ("pptx",),
}
#: what a ZIP (and an Office file, which is one) may hold at most: entries, unpacked bytes
MAX_ZIP_ENTRIES = 10000
MAX_ZIP_UNPACKED = 1024 * 1024 * 1024
MAX_ZIP_RATIO = 200

_HEAD = 8192
_MARKUP = re.compile(rb"<\s*(?:!doctype|html|svg|script|iframe|body|head|\?xml|object|embed|meta)\b", re.I)
_EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe",
                     b"#!", b"\x00asm")
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class FileType:
    type: str  # a key of MIME
    mime: str
    kind: str  # a key of KINDS


class Refusal(Exception):
    """Why a file is refused: a reason code (see service.refusal_message) and a detail for the message."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


def kind_of(file_type: str) -> str:
    return next(kind for kind, types in KINDS.items() if file_type in types)


def name_ending(name: str) -> str:
    return name.rsplit(".", 1)[1].lower() if "." in name else ""


def _zip_check(stream: BinaryIO) -> list[str]:
    """Return the entry names of a ZIP; Refusal when it cannot be read or holds a hostile entry."""
    try:
        archive = zipfile.ZipFile(stream)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise Refusal("broken_zip")
    if len(infos) > MAX_ZIP_ENTRIES:
        raise Refusal("zip_entries")
    unpacked = 0
    packed = 0
    names = []
    for info in infos:
        name = info.filename
        parts = re.split(r"[\\/]", name)
        if (name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts or "\x00" in name):
            raise Refusal("zip_traversal", name)
        mode = info.external_attr >> 16
        if info.create_system == 3 and stat.S_ISLNK(mode):
            raise Refusal("zip_symlink", name)
        if info.flag_bits & 0x1:
            raise Refusal("zip_encrypted", name)
        unpacked += info.file_size
        packed += info.compress_size
        names.append(name)
    if unpacked > MAX_ZIP_UNPACKED or (packed and unpacked / max(packed, 1) > MAX_ZIP_RATIO and unpacked > 50 * 1024 * 1024):
        raise Refusal("zip_bomb")
    return names


def _zip_type(names: list[str]) -> str:
    """An Office or OpenDocument file is a ZIP with known parts; anything else is a plain archive."""
    present = set(names)
    if "[Content_Types].xml" in present:
        for prefix, kind in (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx")):
            if any(n.startswith(prefix) for n in names):
                return kind
    if "mimetype" in present and "content.xml" in present:
        return "odt"  # refined by the mimetype entry below
    return "zip"


def _odf_type(stream: BinaryIO) -> str | None:
    try:
        with zipfile.ZipFile(stream) as archive:
            value = archive.read("mimetype")[:100].decode("ascii", "replace")
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return None
    return {"application/vnd.oasis.opendocument.text": "odt", "application/vnd.oasis.opendocument.spreadsheet": "ods",
            "application/vnd.oasis.opendocument.presentation": "odp"}.get(value.strip())


def _ole_type(candidates: list[str], ending: str) -> str:
    """Word, Excel and PowerPoint 97 (and WPS) share one container: go by the ending when it names one of them."""
    for kind in ("doc", "xls", "ppt"):
        if ending in NAME_ENDINGS[kind]:
            return kind
    for ext in candidates:
        if ext in ("doc", "xls", "ppt"):
            return ext
    return "doc"


def _candidates(head: bytes) -> list[str]:
    try:
        return [m.extension.lstrip(".").lower() for m in puremagic.magic_string(head)]
    except (puremagic.PureError, ValueError):
        return []


def identify(stream: BinaryIO, name: str) -> FileType:
    """Return what the file is by its content; Refusal when it is active content, an executable or unknown.

    The stream must be seekable; it is left at position 0.
    """
    stream.seek(0)
    head = stream.read(_HEAD)
    stream.seek(0)
    if not head:
        raise Refusal("empty")
    if head.startswith(_EXECUTABLE_MAGIC):
        raise Refusal("executable")
    candidates = _candidates(head)
    ending = name_ending(name)
    file_type = None
    if head.startswith(b"PK\x03\x04"):
        names = _zip_check(stream)
        stream.seek(0)
        file_type = _zip_type(names)
        if file_type == "odt":
            file_type = _odf_type(stream) or "zip"
            stream.seek(0)
    elif head.startswith(_OLE):
        file_type = _ole_type(candidates, ending)
    elif head.startswith(b"%PDF-"):
        file_type = "pdf"
    elif head.startswith(b"\xff\xd8\xff"):
        file_type = "jpg"
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        file_type = "png"
    elif head.startswith((b"GIF87a", b"GIF89a")):
        file_type = "gif"
    elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        file_type = "webp"
    elif head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        file_type = "wav"
    elif head.startswith(b"OggS"):
        file_type = "ogg"
    elif head.startswith(b"\x1a\x45\xdf\xa3"):
        file_type = "webm"
    elif head[4:8] == b"ftyp":
        brand = head[8:12]
        file_type = "mov" if brand == b"qt  " else "m4a" if brand in (b"M4A ", b"M4B ") else "mp4"
    elif head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        file_type = "mp3"
    if file_type is None:
        if any(c in ("exe", "dll", "elf", "so", "com", "msi", "class", "dex") for c in candidates):
            raise Refusal("executable")
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n\x00\xff\xfe")
        if _MARKUP.search(stripped[:2048]) or any(c in ("html", "htm", "svg", "xml", "xhtml", "js", "hta")
                                                 for c in candidates):
            raise Refusal("markup")
        raise Refusal("unknown")
    allowed_endings = NAME_ENDINGS.get(file_type, (file_type,))
    if ending not in allowed_endings:
        raise Refusal("name_mismatch", file_type)
    return FileType(file_type, MIME[file_type], kind_of(file_type))


def allowed_types(kinds: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(t for kind in kinds for t in KINDS.get(kind, ()))


def accept_attribute(kinds: tuple[str, ...]) -> str:
    """The `accept` of a file input for these kinds (a hint to the browser; the server decides)."""
    return ",".join("." + ending for t in allowed_types(kinds) for ending in NAME_ENDINGS.get(t, (t,)))
