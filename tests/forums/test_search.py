"""Search with Chinese text (no spaces between words): trigram indexes from 3 characters, LIKE below."""
from sqlalchemy import text

from app.extensions import db
from tests.forums.world import call_api, fast_hashing, forum_world  # noqa: F401


def _ids(w, persona, board, q):
    answer = call_api(w, persona, "GET", f"/api/v1/boards/{w.boards[board]}/topics?q={q}")
    assert answer.status_code == 200
    return {t["id"] for t in answer.get_json()["items"]}


def test_chinese_search_in_a_board(forum_world):
    w = forum_world
    a, _ = w.topic("class_a", title="关于作业", body="我们讨论一下核心素养导向的单元整体教学设计")
    b, _ = w.topic("class_a", title="大单元教学的困惑", body="课堂时间不够用怎么办")
    c, _ = w.topic("class_a", title="读书分享", body="最近在读《给教师的建议》")
    reply_topic, _ = w.topic("class_a", title="其他")
    w.reply(reply_topic, "tutor", "评价量规可以参考课程标准里的学业质量描述")
    assert _ids(w, "learner", "class_a", "单元整体教学") == {a}          # in a body, mid-sentence
    assert _ids(w, "learner", "class_a", "教学") == {a, b}               # two characters: LIKE
    assert _ids(w, "learner", "class_a", "大单元") == {b}                # in a title
    assert _ids(w, "learner", "class_a", "学业质量描述") == {reply_topic}  # in a reply
    assert _ids(w, "learner", "class_a", "给教师的建议") == {c}
    assert _ids(w, "learner", "class_a", "不存在的词语") == set()
    assert _ids(w, "learner", "class_a", "书") == {c}
    assert _ids(w, "learner", "class_a", '"%_\\') == set()               # quotes and LIKE marks are plain text


def test_search_follows_edits_and_deletions(forum_world):
    w = forum_world
    topic_id, post_id = w.topic("class_a", title="标题", body="原来的文字内容")
    call_api(w, "learner", "PATCH", f"/api/v1/posts/{post_id}", {"body": "修改以后的新文字"})
    assert _ids(w, "learner", "class_a", "原来的文字") == set()
    assert _ids(w, "learner", "class_a", "修改以后") == {topic_id}
    other, _ = w.topic("class_a", title="另一个")
    reply = w.reply(other, "learner", "这条回复马上会被删除掉")
    assert _ids(w, "learner", "class_a", "马上会被删除") == {other}
    call_api(w, "learner", "DELETE", f"/api/v1/posts/{reply}")
    assert _ids(w, "learner", "class_a", "马上会被删除") == set()


def test_search_across_readable_boards_only(forum_world):
    w = forum_world
    mine, _ = w.topic("class_a", title="信息技术与学科融合", body="甲班的讨论")
    course, _ = w.topic("course_a", author="learner2", title="信息技术的应用", body="课程讨论")
    w.topic("class_a2", author="learner2", title="信息技术在乙班", body="甲二班的讨论")
    page = w.pages["learner"].get(f"/projects/{w.ids['project_a']}/forums?q=信息技术").get_data(as_text=True)
    assert "信息技术与学科融合" in page and "信息技术的应用" in page and "信息技术在乙班" not in page
    assert f"/topics/{mine}" in page and f"/topics/{course}" in page


def test_the_trigram_index_is_used(forum_world):
    """SQLite: the FTS5 trigram table holds the posts; PostgreSQL: pg_trgm is installed with the GIN indexes."""
    w = forum_world
    w.topic("class_a", body="全文检索的中文内容")
    if db.engine.dialect.name == "sqlite":
        rows = db.session.execute(text("SELECT rowid FROM forum_search WHERE forum_search MATCH :q"),
                                  {"q": '"文检索"'}).all()
        assert len(rows) == 1
    else:
        assert db.session.execute(text("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")).scalar() == "pg_trgm"
        names = set(db.session.execute(text("SELECT indexname FROM pg_indexes WHERE tablename IN "
                                            "('forum_posts', 'forum_topics')")).scalars())
        assert {"ix_forum_posts_body_trgm", "ix_forum_topics_title_trgm"} <= names
        assert db.session.execute(text("SELECT similarity('全文检索的中文内容', '全文检索')")).scalar() > 0
