"""Translated labels of the media feature's codes: asset kinds, transcoding job states."""
from flask_babel import lazy_gettext as _l

LABELS = {
    "media_kind": {"pending": _l("Not yet known"), "video": _l("Video"), "audio": _l("Audio"),
                   "document": _l("Document")},
    "job_state": {"queued": _l("queued"), "running": _l("converting"), "done": _l("ready"), "failed": _l("failed")},
}
