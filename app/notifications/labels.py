"""Translated labels of the notification kinds."""
from flask_babel import lazy_gettext as _l

LABELS = {
    "notification_kind": {
        "reminder": _l("Reminder"),
        "forum_reply": _l("Replied to my post"),
        "qa_answer": _l("Answered my question"),
        "post_excellent": _l("My post was rated excellent"),
        "homework_graded": _l("My homework was graded"),
        "homework_returned": _l("Homework returned for revision"),
        "homework_recommended": _l("Homework recommended as excellent"),
        "forum_digest": _l("Discussion digest"),
        "system": _l("System notice"),
    },
}
