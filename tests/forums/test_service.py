"""Topics and posts: Markdown, quoting, edit window and history, soft delete, lock, moderation, reports, Q&A."""
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.forums.models import ForumPost, ForumPostRevision, ForumReport, ForumTopic
from tests.forums.world import call_api, fast_hashing, forum_world  # noqa: F401


def test_markdown_is_rendered_and_links_are_safe(forum_world):
    w = forum_world
    body = "**重点** [教研网](https://example.org/a) [mail](mailto:a@example.org) <b>raw</b>"
    topic_id, _post = w.topic("class_a", body=body)
    html = call_api(w, "learner", "GET", f"/api/v1/topics/{topic_id}").get_json()["posts"][0]["body_html"]
    assert "<strong>重点</strong>" in html
    assert '<a href="https://example.org/a" rel="nofollow noopener">教研网</a>' in html
    assert 'href="mailto:a@example.org"' in html
    assert "&lt;b&gt;raw&lt;/b&gt;" in html  # raw HTML is text, never markup


def test_only_own_upload_images_survive():
    from app.forums.markup import render_markdown

    own = "/forums/images/" + "a" * 32 + ".png"
    assert f'src="{own}"' in render_markdown(f"![图]({own})")
    assert "src=" not in render_markdown("![图](https://evil.example/x.png)")
    assert "src=" not in render_markdown("![图](/forums/images/../../secret.png)")


def test_quote_shows_the_quoted_author_and_text(forum_world):
    w = forum_world
    topic_id, post_id = w.topic("class_a", body="原帖的内容在这里")
    answer = call_api(w, "tutor", "POST", f"/api/v1/topics/{topic_id}/posts", {"body": "我同意", "quote_post_id": post_id})
    assert answer.status_code == 201
    posts = call_api(w, "learner", "GET", f"/api/v1/topics/{topic_id}").get_json()["posts"]
    assert posts[1]["quote_post_id"] == post_id
    assert "<blockquote>" in posts[1]["body_html"] and "张老师" in posts[1]["body_html"]
    assert "原帖的内容在这里" in posts[1]["body_html"]
    other_topic, other_post = w.topic("class_a")
    wrong = call_api(w, "tutor", "POST", f"/api/v1/topics/{topic_id}/posts", {"body": "x", "quote_post_id": other_post})
    assert wrong.status_code == 400
    page = w.pages["learner"].get(f"/topics/{topic_id}?quote={post_id}").get_data(as_text=True)
    assert 'data-testid="quoting"' in page and f'value="{post_id}"' in page


def test_edit_within_window_keeps_history_then_refuses(forum_world, clock, app):
    w = forum_world
    topic_id, post_id = w.topic("class_a", body="第一版")
    assert call_api(w, "learner", "PATCH", f"/api/v1/posts/{post_id}", {"body": "第二版"}).status_code == 200
    revisions = db.session.execute(select(ForumPostRevision).where(ForumPostRevision.post_id == post_id)).scalars().all()
    assert [r.body_md for r in revisions] == ["第一版"]
    page = w.pages["learner"].get(f"/posts/{post_id}/edit").get_data(as_text=True)
    assert "第一版" in page and 'data-testid="revision"' in page
    clock.advance(app.config["FORUM_EDIT_WINDOW_S"] + 1)
    late = call_api(w, "learner", "PATCH", f"/api/v1/posts/{post_id}", {"body": "第三版"})
    assert late.status_code == 403
    assert db.session.get(ForumPost, post_id).body_md == "第二版"
    # a moderator still edits (and the edit is kept in the history too)
    assert call_api(w, "tutor", "PATCH", f"/api/v1/posts/{post_id}", {"body": "第三版"}).status_code == 200
    assert db.session.execute(select(ForumPostRevision).where(ForumPostRevision.post_id == post_id)).scalars().all()[-1]


def test_soft_delete_keeps_the_row_and_hides_the_text(forum_world):
    w = forum_world
    topic_id, _post = w.topic("class_a")
    reply_id = w.reply(topic_id, "learner", "要删除的回复内容")
    assert call_api(w, "learner", "DELETE", f"/api/v1/posts/{reply_id}").get_json() == {"is_deleted": True}
    row = db.session.get(ForumPost, reply_id)
    assert row.is_deleted and row.body_md == "要删除的回复内容" and row.deleted_by_id == w.users["learner"]
    post = [p for p in call_api(w, "learner", "GET", f"/api/v1/topics/{topic_id}").get_json()["posts"] if p["id"] == reply_id][0]
    assert post["is_deleted"] and post["body_html"] == ""
    assert "要删除的回复内容" not in w.pages["learner"].get(f"/topics/{topic_id}").get_data(as_text=True)
    # deleting the opening post hides the topic
    topic2, first = w.topic("class_a")
    assert call_api(w, "tutor", "DELETE", f"/api/v1/posts/{first}").status_code == 200
    assert call_api(w, "learner", "GET", f"/api/v1/topics/{topic2}").status_code == 404
    assert db.session.get(ForumTopic, topic2) is not None


def test_lock_pin_move_and_excellent(forum_world):
    w = forum_world
    topic_id, post_id = w.topic("course_a")
    answer = call_api(w, "tutor", "POST", f"/api/v1/topics/{topic_id}/moderation",
                      {"is_locked": True, "is_pinned": True, "is_excellent": True})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["is_locked"] and body["is_pinned"] and body["is_excellent"] and body["posts"][0]["is_excellent"]
    locked = call_api(w, "learner", "POST", f"/api/v1/topics/{topic_id}/posts", {"body": "还能回复吗"})
    assert locked.status_code == 409
    pinned = w.topic("course_a")  # newer, but the pinned topic stays first
    items = call_api(w, "learner", "GET", f"/api/v1/boards/{w.boards['course_a']}/topics").get_json()["items"]
    assert items[0]["id"] == topic_id and items[0]["is_pinned"] and pinned[0] in [i["id"] for i in items]
    moved = call_api(w, "tutor", "POST", f"/api/v1/topics/{topic_id}/moderation", {"board_id": w.boards["qa_a"]})
    assert moved.status_code == 200 and moved.get_json()["board_id"] == w.boards["qa_a"]
    # a board of another project is not a target
    elsewhere = call_api(w, "tutor", "POST", f"/api/v1/topics/{topic_id}/moderation", {"board_id": w.boards["course_b"]})
    assert elsewhere.status_code == 404
    reply_id = w.reply(pinned[0], "learner")
    assert call_api(w, "tutor", "POST", f"/api/v1/posts/{reply_id}/excellent", {"value": True}).get_json() == {"is_excellent": True}


def test_report_reaches_the_moderators(forum_world):
    w = forum_world
    topic_id, post_id = w.topic("class_a")
    assert call_api(w, "learner", "POST", f"/api/v1/posts/{post_id}/report", {"reason": "广告帖"}).status_code == 201
    assert db.session.execute(select(ForumReport)).scalar_one().reason == "广告帖"
    tutor_page = w.pages["tutor"].get(f"/boards/{w.boards['class_a']}").get_data(as_text=True)
    learner_page = w.pages["learner"].get(f"/boards/{w.boards['class_a']}").get_data(as_text=True)
    assert "广告帖" in tutor_page and "广告帖" not in learner_page
    call_api(w, "tutor", "DELETE", f"/api/v1/posts/{post_id}")
    assert db.session.execute(select(ForumReport)).scalar_one().resolved_at is not None
    assert "广告帖" not in w.pages["tutor"].get(f"/boards/{w.boards['class_a']}").get_data(as_text=True)


def test_bad_input_is_refused_without_change(forum_world):
    w = forum_world
    url = f"/api/v1/boards/{w.boards['class_a']}/topics"
    for body in ({"title": "", "body": "x"}, {"title": "   ", "body": "正文"}, {"title": "t", "body": " \n "},
                 {"title": 5, "body": "x"}, {"title": "t" * 500, "body": "x"}, {"title": "t", "body": "x" * 50000},
                 {"title": "t"}, {"title": "t", "body": "x", "extra": 1}):
        response = call_api(w, "learner", "POST", url, body)
        assert response.status_code in (400, 413), (body, response.status_code)
        assert "error" in response.get_json()
    assert db.session.execute(select(ForumTopic)).first() is None
    assert call_api(w, "learner", "GET", f"/api/v1/boards/{w.boards['class_a']}/topics?cursor=abc").status_code == 400
    assert call_api(w, "learner", "GET", f"/api/v1/boards/{w.boards['class_a']}/topics?cursor=99999999999").status_code == 400


def test_expert_answer_marks_answered_and_accepted_answer_comes_first(forum_world):
    w = forum_world
    topic_id, _post = w.topic("qa_a", title="如何设计单元作业？")
    learner_reply = w.reply(topic_id, "learner2", "我也想知道，这个问题很重要，请专家解答一下吧")
    assert not call_api(w, "learner", "GET", f"/api/v1/topics/{topic_id}").get_json()["is_answered"]
    expert_reply = w.reply(topic_id, "expert", "建议从课程标准出发，分层设计作业。")
    tutor_reply = w.reply(topic_id, "tutor", "补充一点")
    topic = call_api(w, "learner", "GET", f"/api/v1/topics/{topic_id}").get_json()
    assert topic["is_answered"]
    assert [p["id"] for p in topic["posts"]][1:] == [learner_reply, expert_reply, tutor_reply]
    assert call_api(w, "learner", "POST", f"/api/v1/posts/{tutor_reply}/accept").get_json() == {"is_answer": True}
    assert call_api(w, "learner", "POST", f"/api/v1/posts/{expert_reply}/accept").status_code == 200
    posts = call_api(w, "learner", "GET", f"/api/v1/topics/{topic_id}").get_json()["posts"]
    assert [p["id"] for p in posts][:2] == [posts[0]["id"], expert_reply]
    assert [p["is_answer"] for p in posts] == [False, True, False, False]


def test_question_queue_is_oldest_first_across_classes_and_leaves_answered(forum_world, clock):
    w = forum_world
    first, _ = w.topic("qa_a", author="learner", title="第一个问题")
    clock.advance(60)
    second, _ = w.topic("qa_a", author="learner2", title="第二个问题")
    clock.advance(60)
    w.topic("course_a", author="learner", title="不是问题的讨论")
    queue = call_api(w, "expert", "GET", "/api/v1/me/questions").get_json()["items"]
    assert [t["id"] for t in queue] == [first, second]
    assert call_api(w, "expert_b", "GET", "/api/v1/me/questions").get_json()["items"] == []
    w.reply(first, "expert", "专家的解答")
    assert [t["id"] for t in call_api(w, "expert", "GET", "/api/v1/me/questions").get_json()["items"]] == [second]
    page = w.pages["expert"].get("/expert/questions").get_data(as_text=True)
    assert "第二个问题" in page and "第一个问题" not in page
    assert "/expert/questions" in w.pages["expert"].get("/expert").get_data(as_text=True)


def test_topic_list_pages(forum_world):
    w = forum_world
    for i in range(23):
        w.topic("class_a", title=f"分页话题{i}")
    first = call_api(w, "learner", "GET", f"/api/v1/boards/{w.boards['class_a']}/topics").get_json()
    assert len(first["items"]) == 20 and first["next"] == 2
    second = call_api(w, "learner", "GET", f"/api/v1/boards/{w.boards['class_a']}/topics?cursor=2").get_json()
    assert len(second["items"]) == 3 and second["next"] is None
    assert not {t["id"] for t in first["items"]} & {t["id"] for t in second["items"]}


def test_notifications_of_replies_answers_and_excellent_posts(forum_world):
    from app.notifications.models import Notification

    w = forum_world
    topic_id, post_id = w.topic("class_a", author="learner", title="通知测试")
    w.reply(topic_id, "learner", "我自己回复自己，不用通知")
    w.reply(topic_id, "tutor", "辅导老师的回复")
    call_api(w, "tutor", "POST", f"/api/v1/posts/{post_id}/excellent", {"value": True})
    question, _ = w.topic("qa_a", author="learner", title="请教专家")
    w.reply(question, "expert", "专家的回答")
    rows = db.session.execute(select(Notification).where(Notification.user_id == w.users["learner"])
                              .order_by(Notification.id)).scalars().all()
    assert [r.kind for r in rows] == ["forum_reply", "post_excellent", "qa_answer"]
    assert rows[0].url.startswith(f"/topics/{topic_id}#post-") and "通知测试" in rows[0].text
    assert rows[2].url.startswith(f"/topics/{question}#post-")
    assert w.pages["learner"].get(rows[0].url.split("#")[0]).status_code == 200


def test_forum_index_lists_only_projects_whose_boards_open(forum_world, make_project, org_tree):
    """A project listed on /forums opens for that person; one with no board of theirs is not listed."""
    import re

    w = forum_world
    empty = make_project("没有课程的项目", org=org_tree["county_a"])
    db.session.commit()
    for persona, client in w.pages.items():
        if persona == "anon":
            continue
        html = client.get("/forums").get_data(as_text=True)
        listed = set(re.findall(r'/projects/(\d+)/forums', html))
        for project_id in listed:
            assert client.get(f"/projects/{project_id}/forums").status_code == 200, (persona, project_id)
        assert str(empty.id) not in listed, persona
        assert (str(w.ids["project_b"]) in listed) is (persona in ("site", "county_b", "expert_b")), persona
