"""Who may see and mark a notification: only the person it is for (anyone else gets 404)."""
from app.common.permissions import real_user


def can_view_notification(user, notification) -> bool:
    user = real_user(user)
    return (user is not None and getattr(user, "is_authenticated", False)
            and notification is not None and notification.user_id == user.id)
