"""Permission tables of every forum route, API and pages (the image routes: tests/forums/test_images.py).

Columns (PERSONAS): site admin, county A admin, county B admin (another county), tutor and class manager of
class A, tutor of class A2 (another class of the same project), learner of class A, learner of class A2
(another class), unenrolled teacher, expert of county A (the course's area), expert of county B (another
course's area), anonymous. Rows name a board: class A's board, project A's course board, its Q&A board.
Unseen objects answer 404; seen but not changeable 403; anonymous: 401 (API) or L (sent to sign in).
"""
from dataclasses import dataclass
from typing import Callable

import pytest

from tests.forums.world import PERSONAS, call_api, fast_hashing, forum_world  # noqa: F401

MATRIX_ENDPOINTS = {
    "forums_api.project_boards", "forums_api.board_topics", "forums_api.topic",
    "forums_api.reply", "forums_api.post", "forums_api.moderate",
    "forums_api.excellent", "forums_api.accept", "forums_api.report", "forums_api.question_queue",
    "forums_api.my_points", "forums_api.upload_image", "forums.upload_image", "forums.image",
    "forums.index", "forums.project_boards", "forums.board", "forums.topic", "forums.reply", "forums.moderate",
    "forums.delete_post", "forums.excellent", "forums.accept", "forums.report", "forums.edit_post", "forums.questions",
}

#                      site cA  cB  tut man tu2 lrn ln2 tch exp exB anon
CLASS_READ =          "200 200 404 200 200 404 200 404 404 404 404 401"
CLASS_WRITE =         "403 403 404 201 201 404 201 404 404 404 404 401"
CLASS_MODERATE =      "403 403 404 200 200 404 403 404 404 404 404 401"
CLASS_AUTHOR_OR_MOD = "403 403 404 200 200 404 200 404 404 404 404 401"
CLASS_REPORT =        "201 201 404 201 201 404 201 404 404 404 404 401"
CLASS_ACCEPT =        "403 403 404 403 403 404 403 404 404 404 404 401"
COURSE_READ =         "200 200 404 200 200 200 200 200 404 404 404 401"
COURSE_WRITE =        "403 403 404 201 201 201 201 201 404 404 404 401"
COURSE_MODERATE =     "403 403 404 200 200 200 403 403 404 404 404 401"
COURSE_AUTHOR_OR_MOD = "403 403 404 200 200 200 200 403 404 404 404 401"
COURSE_REPORT =       "201 201 404 201 201 201 201 201 404 404 404 401"
QA_READ =             "200 200 404 200 200 200 200 200 404 200 404 401"
QA_WRITE =            "403 403 404 201 201 201 201 201 404 201 404 401"
QA_MODERATE =         "403 403 404 200 200 200 403 403 404 403 404 401"
QA_AUTHOR_OR_MOD =    "403 403 404 200 200 200 200 403 404 403 404 401"
QA_REPORT =           "201 201 404 201 201 201 201 201 404 201 404 401"
QA_ACCEPT =           "403 403 404 403 403 403 200 403 404 403 404 401"  # only the asker


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    #: (world, board key) -> (path, JSON body)
    build: Callable


def _topic_path(w, board, suffix=""):
    topic_id, _post = w.topic(board)
    return f"/api/v1/topics/{topic_id}{suffix}"


def _post_path(w, board, suffix=""):
    _topic, post_id = w.topic(board)
    return f"/api/v1/posts/{post_id}{suffix}"


def _reply_path(w, board, suffix):
    """A reply by someone else (tutor on the class board, tutor2 elsewhere) to the learner's question."""
    topic_id, _post = w.topic(board)
    post_id = w.reply(topic_id, "tutor" if board == "class_a" else "tutor2")
    return f"/api/v1/posts/{post_id}{suffix}"


CALLS = {
    "boards": Call("project_boards", "GET", lambda w, b: (f"/api/v1/projects/{w.ids['project_a']}/boards", None)),
    "topics": Call("board_topics", "GET", lambda w, b: (f"/api/v1/boards/{w.boards[b]}/topics?q=话题", None)),
    "create": Call("create_topic", "POST", lambda w, b: (f"/api/v1/boards/{w.boards[b]}/topics",
                                                        {"title": "新话题", "body": "正文"})),
    "topic": Call("topic", "GET", lambda w, b: (_topic_path(w, b), None)),
    "reply": Call("reply", "POST", lambda w, b: (_topic_path(w, b, "/posts"), {"body": "回复"})),
    "edit": Call("edit_post", "PATCH", lambda w, b: (_post_path(w, b), {"body": "改过的正文"})),
    "delete": Call("delete_post", "DELETE", lambda w, b: (_post_path(w, b), None)),
    "moderate": Call("moderate", "POST", lambda w, b: (_topic_path(w, b, "/moderation"), {"is_pinned": True})),
    "excellent": Call("excellent", "POST", lambda w, b: (_post_path(w, b, "/excellent"), {"value": True})),
    "accept": Call("accept", "POST", lambda w, b: (_reply_path(w, b, "/accept"), None)),
    "report": Call("report", "POST", lambda w, b: (_post_path(w, b, "/report"), {"reason": "广告"})),
}

TABLE = [
    ("class_a", "topics", CLASS_READ), ("class_a", "create", CLASS_WRITE), ("class_a", "topic", CLASS_READ),
    ("class_a", "reply", CLASS_WRITE), ("class_a", "edit", CLASS_AUTHOR_OR_MOD),
    ("class_a", "delete", CLASS_AUTHOR_OR_MOD), ("class_a", "moderate", CLASS_MODERATE),
    ("class_a", "excellent", CLASS_MODERATE), ("class_a", "accept", CLASS_ACCEPT), ("class_a", "report", CLASS_REPORT),
    ("course_a", "topics", COURSE_READ), ("course_a", "create", COURSE_WRITE), ("course_a", "topic", COURSE_READ),
    ("course_a", "reply", COURSE_WRITE), ("course_a", "edit", COURSE_AUTHOR_OR_MOD),
    ("course_a", "delete", COURSE_AUTHOR_OR_MOD), ("course_a", "moderate", COURSE_MODERATE),
    ("course_a", "excellent", COURSE_MODERATE), ("course_a", "report", COURSE_REPORT),
    ("qa_a", "topics", QA_READ), ("qa_a", "create", QA_WRITE), ("qa_a", "topic", QA_READ),
    ("qa_a", "reply", QA_WRITE), ("qa_a", "edit", QA_AUTHOR_OR_MOD), ("qa_a", "delete", QA_AUTHOR_OR_MOD),
    ("qa_a", "moderate", QA_MODERATE), ("qa_a", "excellent", QA_MODERATE), ("qa_a", "accept", QA_ACCEPT),
    ("qa_a", "report", QA_REPORT),
    # the boards list: everyone who reads one board of project A (the county B admin, teacher, expert B: 404)
    ("class_a", "boards", "200 200 404 200 200 200 200 200 404 200 404 401"),
]


@pytest.mark.parametrize("board", ["class_a", "course_a", "qa_a"])
def test_api_permission_table(forum_world, board):
    w = forum_world
    problems = []
    for board_key, call_key, expected in TABLE:
        if board_key != board:
            continue
        call = CALLS[call_key]
        for persona, want in zip(PERSONAS, expected.split(), strict=True):
            path, body = call.build(w, board)
            response = call_api(w, persona, call.method, path, body)
            if str(response.status_code) != want:
                problems.append(f"{board} {call.name} {persona}: expected {want}, got {response.status_code}")
            elif response.status_code >= 400:
                assert response.is_json and "error" in response.get_json()
    assert not problems, "\n".join(problems)


def test_boards_list_names_only_readable_boards(forum_world):
    w = forum_world
    kinds = {}
    for persona in ("learner", "learner2", "tutor2", "expert", "site"):
        answer = call_api(w, persona, "GET", f"/api/v1/projects/{w.ids['project_a']}/boards").get_json()
        kinds[persona] = sorted((b["kind"], b["class_id"] or 0) for b in answer)
    class_a, class_a2 = w.ids["class_a"], w.ids["class_a"] + 1
    assert kinds["learner"] == [("class", class_a), ("course", 0), ("qa", 0)]
    assert kinds["learner2"] == [("class", class_a2), ("course", 0), ("qa", 0)]
    assert kinds["tutor2"] == [("class", class_a2), ("course", 0), ("qa", 0)]
    assert kinds["expert"] == [("qa", 0)]
    assert len(kinds["site"]) == 4


def test_me_endpoints(forum_world):
    w = forum_world
    queue = "403 403 403 403 403 403 403 403 403 200 200 401"
    points = "200 200 200 200 200 200 200 200 200 200 200 401"
    problems = []
    for persona, q, p in zip(PERSONAS, queue.split(), points.split(), strict=True):
        got_q = call_api(w, persona, "GET", "/api/v1/me/questions").status_code
        got_p = call_api(w, persona, "GET", f"/api/v1/me/points?project_id={w.ids['project_a']}").status_code
        if (str(got_q), str(got_p)) != (q, p):
            problems.append(f"{persona}: queue {got_q} (want {q}), points {got_p} (want {p})")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- pages
def _outcome(response) -> str:
    if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
        return "L"
    return str(response.status_code)


def _page(w, persona, method, path, data=None):
    client = w.pages[persona]
    if method == "GET":
        return _outcome(client.get(path))
    return _outcome(client.post(path, data={"csrf_token": w.csrf[persona], **(data or {})}))


PAGE_CLASS = [
    #                                              site cA  cB  tut man tu2 lrn ln2 tch exp exB anon
    ("GET board", lambda w: ("GET", f"/boards/{w.boards['class_a']}", None),
     "200 200 404 200 200 404 200 404 404 404 404 L"),
    ("POST board", lambda w: ("POST", f"/boards/{w.boards['class_a']}", {"title": "标题", "body": "正文"}),
     "403 403 404 302 302 404 302 404 404 404 404 L"),
    ("GET topic", lambda w: ("GET", f"/topics/{w.topic('class_a')[0]}?quote=1", None),
     "200 200 404 200 200 404 200 404 404 404 404 L"),
    ("POST reply", lambda w: ("POST", f"/topics/{w.topic('class_a')[0]}/reply", {"body": "回复"}),
     "403 403 404 302 302 404 302 404 404 404 404 L"),
    ("POST moderate", lambda w: ("POST", f"/topics/{w.topic('class_a')[0]}/moderate", {"action": "lock"}),
     "403 403 404 302 302 404 403 404 404 404 404 L"),
    ("POST delete", lambda w: ("POST", f"/posts/{w.topic('class_a')[1]}/delete", None),
     "403 403 404 302 302 404 302 404 404 404 404 L"),
    ("POST excellent", lambda w: ("POST", f"/posts/{w.topic('class_a')[1]}/excellent", {"value": "1"}),
     "403 403 404 302 302 404 403 404 404 404 404 L"),
    ("POST accept", lambda w: ("POST", f"/posts/{w.reply(w.topic('class_a')[0], 'tutor')}/accept", None),
     "403 403 404 403 403 404 403 404 404 404 404 L"),
    ("GET report", lambda w: ("GET", f"/posts/{w.topic('class_a')[1]}/report", None),
     "200 200 404 200 200 404 200 404 404 404 404 L"),
    ("POST report", lambda w: ("POST", f"/posts/{w.topic('class_a')[1]}/report", {"reason": "x"}),
     "302 302 404 302 302 404 302 404 404 404 404 L"),
    ("GET edit", lambda w: ("GET", f"/posts/{w.topic('class_a')[1]}/edit", None),
     "403 403 404 200 200 404 200 404 404 404 404 L"),
    ("POST edit", lambda w: ("POST", f"/posts/{w.topic('class_a')[1]}/edit", {"body": "新的正文"}),
     "403 403 404 302 302 404 302 404 404 404 404 L"),
    ("GET project boards", lambda w: ("GET", f"/projects/{w.ids['project_a']}/forums?q=话题", None),
     "200 200 404 200 200 200 200 200 404 200 404 L"),
    ("GET index", lambda w: ("GET", "/forums", None), "200 200 200 200 200 200 200 200 200 200 200 L"),
    ("GET questions", lambda w: ("GET", "/expert/questions", None), "403 403 403 403 403 403 403 403 403 200 200 L"),
]

PAGE_QA = [
    ("GET qa board", lambda w: ("GET", f"/boards/{w.boards['qa_a']}", None),
     "200 200 404 200 200 200 200 200 404 200 404 L"),
    ("POST qa reply", lambda w: ("POST", f"/topics/{w.topic('qa_a')[0]}/reply", {"body": "解答"}),
     "403 403 404 302 302 302 302 302 404 302 404 L"),
    ("POST qa accept", lambda w: ("POST", f"/posts/{w.reply(w.topic('qa_a')[0], 'expert')}/accept", None),
     "403 403 404 403 403 403 302 403 404 403 404 L"),
    ("POST course moderate", lambda w: ("POST", f"/topics/{w.topic('course_a')[0]}/moderate", {"action": "pin"}),
     "403 403 404 302 302 302 403 403 404 404 404 L"),
]


@pytest.mark.parametrize("rows", [PAGE_CLASS, PAGE_QA], ids=["class", "qa"])
def test_page_permission_table(forum_world, rows):
    w = forum_world
    problems = []
    for name, build, expected in rows:
        for persona, want in zip(PERSONAS, expected.split(), strict=True):
            method, path, data = build(w)
            got = _page(w, persona, method, path, data)
            if got != want:
                problems.append(f"{name} {persona}: expected {want}, got {got}")
    assert not problems, "\n".join(problems)


def test_table_covers_every_endpoint(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.split(".")[0] in ("forums", "forums_api")}
    assert endpoints == MATRIX_ENDPOINTS
