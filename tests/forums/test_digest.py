"""The forums' daily e-mail digest: one message per person with the day's forum news, never twice."""
from sqlalchemy import select

from app.extensions import db
from app.forums.digest import do_send_digests
from app.notifications.models import Notification
from tests.forums.world import fast_hashing, forum_world  # noqa: F401
from tests.notifications.conftest import smtp_sink  # noqa: F401


def test_digest_sends_the_days_forum_news_once(app, forum_world, smtp_sink, clock):
    w = forum_world
    learner = w.user("learner")
    learner.email = "learner@example.test"
    db.session.commit()
    topic_id, _ = w.topic("class_a", author="learner", title="摘要测试")
    w.reply(topic_id, "tutor", "辅导老师的回复")
    assert do_send_digests() == 0  # no SMTP configured: nothing
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_sink.port, SITE_URL="https://xs.example.test")
    assert smtp_sink.messages == []  # replies send no mail of their own
    assert do_send_digests() == 1
    message = smtp_sink.messages[0]["message"]
    assert smtp_sink.messages[0]["to"] == ["learner@example.test"]
    assert "摘要测试" in message.get_content() and f"https://xs.example.test/topics/{topic_id}#post-" in message.get_content()
    assert do_send_digests() == 0  # nothing new since
    clock.advance(3600)
    w.reply(topic_id, "manager", "班主任也回复了")
    assert do_send_digests() == 1 and len(smtp_sink.messages) == 2
    assert "班主任也回复了" not in smtp_sink.messages[1]["message"].get_content()  # texts say who, not what
    kinds = db.session.execute(select(Notification.kind).where(Notification.user_id == learner.id)).scalars().all()
    assert kinds.count("forum_digest") == 2
