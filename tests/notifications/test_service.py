"""notify() and the notification API: transactions, paging, marking read, bad ids, and the e-mail job."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.notifications import service
from app.notifications.models import Notification
from tests.conftest import bearer


def _count(user_id=None) -> int:
    query = select(func.count()).select_from(Notification)
    if user_id is not None:
        query = query.where(Notification.user_id == user_id)
    return db.session.execute(query).scalar_one()


@pytest.fixture
def people(app, make_user):
    learner = make_user("note_learner")
    other = make_user("note_other")
    return learner, other


def test_notify_belongs_to_the_callers_transaction(app, people):
    learner, other = people
    rows = service.notify([learner.id, other.id, learner.id], "system", "欢迎", "/learn")
    assert len(rows) == 2 and {r.user_id for r in rows} == {learner.id, other.id}  # duplicate id notified once
    db.session.rollback()
    assert _count() == 0  # rolled back with the action: no row
    service.notify([learner.id], "system", "欢迎", "/learn")
    db.session.commit()
    assert _count(learner.id) == 1 and service.unread_count(learner.id) == 1 and service.unread_count(other.id) == 0


@pytest.mark.parametrize("url", ["https://evil.example/x", "//evil.example/x", "learn", "/\\evil.example", "", "/a\nb"])
def test_notify_refuses_links_outside_the_app(app, people, url):
    with pytest.raises(ValueError):
        service.notify([people[0].id], "system", "text", url)


def test_notify_refuses_unknown_kinds_and_long_texts(app, people):
    with pytest.raises(ValueError):
        service.notify([people[0].id], "party", "text", "/learn")
    with pytest.raises(ValueError):
        service.notify([people[0].id], "system", "x" * 501, "/learn")
    assert service.notify([people[0].id], "system", "x" * 500, "/learn")[0].text == "x" * 500


def test_api_pages_newest_first_with_a_cursor(app, client, people, api_token, clock):
    learner, other = people
    for i in range(45):
        service.notify([learner.id], "reminder", f"note {i}", f"/learn?n={i}")
        clock.advance(60)
    service.notify([other.id], "system", "not yours", "/learn")
    db.session.commit()
    token = api_token(learner)
    seen, cursor, pages = [], None, 0
    while True:
        response = client.get("/api/v1/me/notifications" + (f"?cursor={cursor}" if cursor else ""), headers=bearer(token))
        assert response.status_code == 200
        body = response.get_json()
        seen += [item["text"] for item in body["items"]]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert pages == 3 and seen == [f"note {i}" for i in reversed(range(45))]
    first = client.get("/api/v1/me/notifications", headers=bearer(token)).get_json()["items"][0]
    assert set(first) == {"id", "kind", "text", "url", "created_at", "read_at"}
    assert first["kind"] == "reminder" and first["url"] == "/learn?n=44" and first["read_at"] is None
    for bad in ("abc", "٣", "99999999999999999999", "0"):
        response = client.get(f"/api/v1/me/notifications?cursor={bad}", headers=bearer(token))
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "cursor"


def test_mark_read_is_idempotent_and_owner_only(app, client, people, api_token, clock):
    learner, other = people
    note = service.notify([learner.id], "homework_graded", "作业已批改", "/learn")[0]
    db.session.commit()
    token, other_token = api_token(learner), api_token(other)
    assert client.post(f"/api/v1/me/notifications/{note.id}/read", headers=bearer(other_token)).status_code == 404
    first = client.post(f"/api/v1/me/notifications/{note.id}/read", headers=bearer(token))
    assert first.status_code == 200
    clock.advance(3600)
    second = client.post(f"/api/v1/me/notifications/{note.id}/read", headers=bearer(token))
    assert second.status_code == 200 and second.get_json() == first.get_json()
    assert service.unread_count(learner.id) == 0
    for bad in ("99999999999999999999999", "2147483648", "١٢", "²", "0"):
        response = client.post(f"/api/v1/me/notifications/{bad}/read", headers=bearer(token))
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found", bad
    assert client.post("/api/v1/me/notifications/1/read").status_code == 401
    assert client.get("/api/v1/me/notifications").status_code == 401


def test_page_open_marks_read_and_goes_to_the_url(app, client, people, login):
    learner, other = people
    mine = service.notify([learner.id], "forum_reply", "有人回复了你的帖子", "/learn?from=note")[0]
    theirs = service.notify([other.id], "forum_reply", "别人的通知", "/learn")[0]
    db.session.commit()
    login(client, learner)
    page = client.get("/notifications/").get_data(as_text=True)
    assert "有人回复了你的帖子" in page and "别人的通知" not in page and 'data-testid="unread-badge"' in page
    from tests.classrooms.world import page_csrf

    token = page_csrf(client, "/notifications/")
    assert client.post(f"/notifications/{theirs.id}/open", data={"csrf_token": token}).status_code == 404
    assert client.post("/notifications/١/open", data={"csrf_token": token}).status_code == 404
    assert client.post("/notifications/99999999999999999999/open", data={"csrf_token": token}).status_code == 404
    response = client.post(f"/notifications/{mine.id}/open", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/learn?from=note"
    assert 'data-testid="unread-badge"' not in client.get("/notifications/").get_data(as_text=True)
    assert db.session.get(Notification, theirs.id).read_at is None


def test_mark_all_read(app, client, people, login):
    learner, other = people
    service.notify([learner.id, other.id], "system", "一", "/learn")
    service.notify([learner.id], "system", "二", "/learn")
    db.session.commit()
    login(client, learner)
    from tests.classrooms.world import page_csrf

    token = page_csrf(client, "/notifications/")
    response = client.post("/notifications/read-all", data={"csrf_token": token})
    assert response.status_code == 302
    assert service.unread_count(learner.id) == 0 and service.unread_count(other.id) == 1
    assert client.post("/notifications/read-all", data={}).status_code == 400  # no CSRF token: nothing changes


# ---------------------------------------------------------------- e-mail
def _mail_config(app, port, server="127.0.0.1"):
    app.config.update(MAIL_SERVER=server, MAIL_PORT=port, MAIL_FROM="xueshi@example.test", SITE_URL="https://xs.example.test")


def test_email_is_sent_by_the_job_after_commit(app, people, smtp_sink):
    learner, other = people
    learner.email, other.email, learner.locale = "learner@example.test", None, "zh_CN"  # the mail speaks their language
    db.session.commit()
    _mail_config(app, smtp_sink.port)
    service.notify([learner.id, other.id], "homework_returned", "你的作业被退回修改", "/learn?hw=1")
    assert smtp_sink.messages == []  # nothing before the commit
    db.session.commit()
    assert len(smtp_sink.messages) == 1  # the user without an address gets none
    sent = smtp_sink.messages[0]
    assert sent["to"] == ["learner@example.test"]
    message = sent["message"]
    assert message["From"] == "xueshi@example.test" and "作业被退回修改" in message["Subject"]
    assert "你的作业被退回修改" in message.get_content() and "https://xs.example.test/learn?hw=1" in message.get_content()
    stamped = db.session.execute(select(Notification).where(Notification.user_id == learner.id)).scalar_one()
    assert stamped.emailed_at is not None
    assert db.session.execute(select(Notification).where(Notification.user_id == other.id)).scalar_one().emailed_at is None


def test_no_email_when_rolled_back_or_not_wanted(app, people, smtp_sink):
    learner, _other = people
    learner.email = "learner@example.test"
    db.session.commit()
    _mail_config(app, smtp_sink.port)
    service.notify([learner.id], "system", "回滚", "/learn")
    db.session.rollback()
    db.session.commit()
    service.notify([learner.id], "system", "只在站内", "/learn", email=False)
    db.session.commit()
    assert smtp_sink.messages == []


def test_no_email_without_mail_server(app, people, smtp_sink):
    learner, _other = people
    learner.email = "learner@example.test"
    db.session.commit()
    app.config.update(MAIL_SERVER="", MAIL_PORT=smtp_sink.port)
    service.notify([learner.id], "system", "没有邮件", "/learn")
    db.session.commit()
    assert smtp_sink.messages == []
    assert db.session.execute(select(Notification.emailed_at)).scalar_one() is None


def test_send_mail_is_public_for_other_features(app, smtp_sink):
    from app.notifications.mail import MailNotConfigured, send_mail

    with pytest.raises(MailNotConfigured):
        send_mail("a@example.test", "s", "b")
    _mail_config(app, smtp_sink.port)
    send_mail(["a@example.test", "b@example.test"], "研讨日报", "今天的讨论")
    assert smtp_sink.messages[0]["to"] == ["a@example.test", "b@example.test"]
    assert smtp_sink.messages[0]["message"]["Subject"] == "研讨日报"
