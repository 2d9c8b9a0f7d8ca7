"""The forums' small world: two projects (county A, county B), two classes in project A, one in B, and personas.

Personas (PERSONAS order): site admin, county A admin, county B admin (another county), tutor and class manager
of class A, tutor of class A2 (another class, same project), learner of class A, learner of class A2 (another
class), an unenrolled teacher of school A1, an expert of county A (the course's area), an expert of county B
(another course's area), anonymous.
"""
import itertools
from dataclasses import dataclass, field

import pytest

from app.extensions import db
from app.forums import service
from app.forums.models import ForumBoard
from tests.classrooms.world import fast_hashing, page_csrf  # noqa: F401
from tests.conftest import Auth, bearer

PERSONAS = ("site", "county_a", "county_b", "tutor", "manager", "tutor2", "learner", "learner2", "teacher",
            "expert", "expert_b", "anon")
_n = itertools.count(1)


@dataclass
class ForumWorld:
    users: dict
    boards: dict
    ids: dict
    api: dict = field(default_factory=dict)
    pages: dict = field(default_factory=dict)
    csrf: dict = field(default_factory=dict)

    def user(self, name):
        from app.accounts.models import User

        return db.session.get(User, self.users[name])

    def board(self, key) -> ForumBoard:
        return db.session.get(ForumBoard, self.boards[key])

    def topic(self, board_key: str, author: str = "learner", title: str | None = None, body: str | None = None):
        """A fresh topic (and its post) on the board by the author: (topic_id, post_id)."""
        topic, post = service.do_create_topic(self.user(author), self.board(board_key),
                                              title or f"话题 {next(_n)}", body or "这是一个用于测试的讨论话题的正文内容。")
        db.session.commit()
        return topic.id, post.id

    def reply(self, topic_id: int, author: str, body: str | None = None) -> int:
        from app.forums.models import ForumTopic

        post = service.do_reply(self.user(author), db.session.get(ForumTopic, topic_id),
                                body or f"回复内容，足够长的一段文字用于测试积分规则 {next(_n)}")
        db.session.commit()
        return post.id


@pytest.fixture
def forum_world(app, fast_hashing, org_tree, make_user, make_project, make_course, make_class, enroll):
    t = org_tree
    project_a = make_project("项目甲", org=t["county_a"])
    project_b = make_project("项目乙", org=t["county_b"])
    course_a = make_course(project_a, "课程甲", org=t["county_a"])
    course_b = make_course(project_b, "课程乙", org=t["county_b"])
    class_a = make_class(project_a, t["school_a1"], "甲班")
    class_a2 = make_class(project_a, t["school_a2"], "甲二班")
    class_b = make_class(project_b, t["school_b1"], "乙班")
    users = {
        "site": make_user("f_site", role="site_admin"),
        "county_a": make_user("f_county_a", role="org_admin", org=t["county_a"]),
        "county_b": make_user("f_county_b", role="org_admin", org=t["county_b"]),
        "tutor": make_user("f_tutor", role="tutor", cls=class_a, school=t["school_a1"], real_name="甲班辅导老师"),
        "manager": make_user("f_manager", role="class_manager", cls=class_a, school=t["school_a1"]),
        "tutor2": make_user("f_tutor2", role="tutor", cls=class_a2, school=t["school_a2"]),
        "learner": make_user("f_learner", role="learner", cls=class_a, org=t["school_a1"], real_name="张老师"),
        "learner2": make_user("f_learner2", role="learner", cls=class_a2, org=t["school_a2"]),
        "teacher": make_user("f_teacher", org=t["school_a1"]),
        "expert": make_user("f_expert", role="expert", org=t["county_a"], real_name="李专家"),
        "expert_b": make_user("f_expert_b", role="expert", org=t["county_b"]),
        "learner_b": make_user("f_learner_b", role="learner", cls=class_b, org=t["school_b1"]),
    }
    for name in ("learner", "learner2"):
        enroll(users[name], project_a)
    enroll(users["learner_b"], project_b)
    service.ensure_boards(project_a)
    service.ensure_boards(project_b)
    db.session.commit()
    from sqlalchemy import select

    boards = {}
    for b in db.session.execute(select(ForumBoard)).scalars():
        side = "a" if b.project_id == project_a.id else "b"
        if b.kind == "class":
            key = {class_a.id: "class_a", class_a2.id: "class_a2", class_b.id: "class_b"}[b.class_id]
        else:
            key = f"{b.kind}_{side}"
        boards[key] = b.id
    ids = {"project_a": project_a.id, "project_b": project_b.id, "course_a": course_a.id, "class_a": class_a.id}
    w = ForumWorld({k: u.id for k, u in users.items()}, boards, ids)
    for name in PERSONAS:
        api_client = app.test_client()
        page_client = app.test_client()
        if name == "anon":
            w.api[name] = (api_client, {})
            w.csrf[name] = page_csrf(page_client, "/login")
        else:
            token = Auth(api_client).token(f"f_{name}")
            w.api[name] = (api_client, bearer(token))
            assert Auth(page_client).login(f"f_{name}").status_code == 302
            w.csrf[name] = page_csrf(page_client, "/")
        w.pages[name] = page_client
    return w


def call_api(w: ForumWorld, persona: str, method: str, path: str, body=None):
    client, headers = w.api[persona]
    return client.open(path, method=method, json=body, headers=headers)
