"""Translated labels of the courses feature's codes: enrolment methods, lesson kinds."""
from flask_babel import lazy_gettext as _l

LABELS = {
    "enrollment_source": {
        "admin": _l("Enrolled by an administrator"), "import": _l("Enrolled by import"),
        "card": _l("Learning card"), "self": _l("Self-enrolled"),
    },
    "lesson_kind": {"video": _l("Video"), "audio": _l("Audio"), "document": _l("Document")},
}
