"""Pure rules of notifications: which links may be stored and followed."""
from urllib.parse import urlsplit


def is_app_path(url: object) -> bool:
    """True for an app-relative path ("/x/1?y=2"): starts with one "/", no scheme, host, backslash or control."""
    if not isinstance(url, str) or not url.startswith("/") or url.startswith("//"):
        return False
    if "\\" in url or any(ord(c) < 32 or ord(c) == 127 for c in url):
        return False
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc
