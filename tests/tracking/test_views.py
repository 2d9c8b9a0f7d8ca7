"""Tracking pages: the player, progress and audit pages render what the service holds, for whom they may."""
import json
import re

import pytest

from tests.conftest import bearer

#: the pages whose permissions the tables below test (read by tests/test_route_matrix.py)
MATRIX_ENDPOINTS = {"tracking.player", "tracking.progress", "tracking.audit", "tracking.learner_progress",
                    "tracking.learner_audit"}


@pytest.fixture
def world(org_tree, make_user, make_project, make_course, make_class, enroll):
    """One project; class A (county A) and class B (county B) with their learners and staff; outsiders."""
    project = make_project("Summer training", org=org_tree["province"], required_hours=1, minutes_per_hour=45)
    course = make_course(project, title="Reading", durations=(600, 300))
    document = make_course(project, title="Handouts", durations=(0,), kind="document")
    other_course = make_course(None, title="Not in the project", durations=(120,))
    class_a = make_class(project, org_tree["school_a1"], name="Class A")
    class_b = make_class(project, org_tree["school_b1"], name="Class B")
    people = {
        "learner_a": make_user("learner_a", role="learner", org=org_tree["school_a1"], cls=class_a),
        "learner_a2": make_user("learner_a2", role="learner", org=org_tree["school_a1"], cls=class_a),
        "learner_b": make_user("learner_b", role="learner", org=org_tree["school_b1"], cls=class_b),
        "tutor_a": make_user("tutor_a", role="tutor", cls=class_a),
        "manager_a": make_user("manager_a", role="class_manager", cls=class_a),
        "tutor_b": make_user("tutor_b", role="tutor", cls=class_b),
        "admin_a": make_user("admin_a", role="org_admin", org=org_tree["county_a"]),
        "admin_b": make_user("admin_b", role="org_admin", org=org_tree["county_b"]),
        "expert": make_user("expert_b", role="expert", org=org_tree["county_b"]),
        "site_admin": make_user("root", role="site_admin"),
        "visitor": make_user("visitor", school=org_tree["school_a2"]),
    }
    for name in ("learner_a", "learner_a2", "learner_b"):
        enroll(people[name], project)
    return {
        "project": project,
        "lesson": course.modules[0].lessons[0],
        "short_lesson": course.modules[0].lessons[1],
        "document": document.modules[0].lessons[0],
        "foreign_lesson": other_course.modules[0].lessons[0],
        **people,
    }


def _client_for(app, login, world, who, locale="en"):
    """A client signed in as `who`; pages in English so the assertions can read them (zh_CN is the default)."""
    client = app.test_client()
    if locale:
        client.set_cookie("locale", locale)
    if who != "anonymous":
        login(client, world[who])
    return client


# ----------------------------------------------------------------------------- permission tables

OWN_PAGES = ("player", "progress", "audit")


def _own_url(world, page, lesson_key="lesson"):
    pid, lid = world["project"].id, world[lesson_key].id
    return {
        "player": f"/projects/{pid}/lessons/{lid}/play",
        "progress": f"/projects/{pid}/progress",
        "audit": f"/projects/{pid}/lessons/{lid}/audit",
    }[page]


@pytest.mark.parametrize("page", OWN_PAGES)
@pytest.mark.parametrize("who, status", [
    ("learner_a", 200),     # enrolled learner: their own pages
    ("learner_b", 200),     # enrolled in another class: still their own pages
    ("visitor", 403),       # registered, not enrolled
    ("tutor_a", 403),       # staff are not learners of the project: they use the learner pages below
    ("admin_a", 403),
    ("anonymous", 302),     # to the login page
])
def test_own_pages_permission_table(app, login, world, page, who, status):
    client = _client_for(app, login, world, who)
    response = client.get(_own_url(world, page))
    assert response.status_code == status, (page, who, response.status_code)
    if status == 302:
        assert "/login" in response.headers["Location"]


def test_own_pages_unknown_or_foreign_objects(app, login, world):
    client = _client_for(app, login, world, "learner_a")
    pid = world["project"].id
    assert client.get(f"/projects/999999/progress").status_code == 404
    assert client.get(f"/projects/{pid}/lessons/999999/play").status_code == 404
    assert client.get(f"/projects/{pid}/lessons/999999/audit").status_code == 404
    # A lesson of a course the project does not offer.
    assert client.get(_own_url(world, "player", "foreign_lesson")).status_code == 403
    assert client.get(_own_url(world, "audit", "foreign_lesson")).status_code == 403
    # A document opens in the reader (here without a file: the page says it cannot be shown, not a 404).
    html = client.get(_own_url(world, "player", "document")).get_data(as_text=True)
    assert 'data-testid="no-reader"' in html and 'id="xs-player"' not in html


STAFF_TABLE = [
    ("learner_a", 200),   # the learner themself
    ("learner_a2", 404),  # a classmate
    ("learner_b", 404),   # a learner of another class
    ("tutor_a", 200),     # tutor of the learner's class
    ("manager_a", 200),   # class manager of the learner's class
    ("tutor_b", 404),     # tutor of another class
    ("admin_a", 200),     # org admin of the learner's county
    ("admin_b", 404),     # org admin of another county
    ("expert", 404),      # an expert answers questions, does not watch hours
    ("site_admin", 200),
    ("visitor", 404),     # unenrolled, no role
    ("anonymous", 302),
]


@pytest.mark.parametrize("page", ("learner_progress", "learner_audit"))
@pytest.mark.parametrize("who, status", STAFF_TABLE)
def test_learner_pages_permission_table(app, login, world, page, who, status):
    client = _client_for(app, login, world, who)
    pid, uid, lid = world["project"].id, world["learner_a"].id, world["lesson"].id
    url = (f"/projects/{pid}/learners/{uid}/progress" if page == "learner_progress"
           else f"/projects/{pid}/learners/{uid}/lessons/{lid}/audit")
    response = client.get(url)
    assert response.status_code == status, (page, who, response.status_code)
    if status == 200 and who != "learner_a":
        learner_line = re.search(r'data-testid="learner">(.*?)</p>', response.get_data(as_text=True), re.S)
        assert learner_line and "(learner_a" in learner_line.group(1)


def test_learner_pages_unknown_objects(app, login, world):
    client = _client_for(app, login, world, "site_admin")
    pid, uid = world["project"].id, world["learner_a"].id
    assert client.get(f"/projects/{pid}/learners/999999/progress").status_code == 404
    assert client.get(f"/projects/999999/learners/{uid}/progress").status_code == 404
    assert client.get(f"/projects/{pid}/learners/{uid}/lessons/{world['foreign_lesson'].id}/audit").status_code == 404


def test_every_tracking_page_is_in_a_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("tracking.")}
    assert endpoints == MATRIX_ENDPOINTS


# ----------------------------------------------------------------------------- what the pages show


def _play(client, token, project, lesson, clock, beats):
    """Open a session and send heartbeats: beats = [(seconds_later, body_fields)]."""
    response = client.post("/api/v1/playback/sessions", json={"lesson_id": lesson.id, "project_id": project.id},
                           headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    sid = response.get_json()["session_id"]
    answer = None
    for seq, (later, fields) in enumerate(beats, 1):
        clock.advance(later)
        body = {"seq": seq, "playing": True, "visible": True, "rate": 1.0, "event": "tick", **fields}
        response = client.post(f"/api/v1/playback/sessions/{sid}/heartbeats", json=body, headers=bearer(token))
        assert response.status_code == 200, response.get_json()
        answer = response.get_json()
    return sid, answer


def test_player_page_wires_the_player(app, login, world):
    client = _client_for(app, login, world, "learner_a")
    html = client.get(_own_url(world, "player")).get_data(as_text=True)
    video = re.search(r"<video[^>]*>", html).group(0)
    for attribute in ("playsinline", "webkit-playsinline", "x5-playsinline", 'x5-video-player-type="h5"', "controls"):
        assert attribute in video
    root = re.search(r'<div id="xs-player"[^>]*>', html, re.S).group(0)
    assert f'data-project-id="{world["project"].id}"' in root
    assert f'data-lesson-id="{world["lesson"].id}"' in root
    assert 'data-forbid-seek-ahead="0"' in root
    assert "/static/js/player.js" in html
    strings = json.loads(re.search(r'<script type="application/json" id="xs-player-strings">(.*?)</script>',
                                   html, re.S).group(1))
    assert "not being saved" in strings["notSaved"]
    assert strings["resumeHere"] == "Resume here"
    assert 'data-testid="not-saved"' in html and 'data-xs="presence"' in html


def test_player_page_passes_the_seek_setting(app, login, world, make_project, make_course, enroll):
    project = make_project("Strict", is_seek_ahead_forbidden=True)
    course = make_course(project, durations=(100,))
    enroll(world["learner_a"], project)
    client = _client_for(app, login, world, "learner_a")
    html = client.get(f"/projects/{project.id}/lessons/{course.modules[0].lessons[0].id}/play").get_data(as_text=True)
    assert 'data-forbid-seek-ahead="1"' in html


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
def test_player_page_is_in_chinese_by_default(app, login, world):
    client = _client_for(app, login, world, "learner_a", locale=None)
    html = client.get(_own_url(world, "player")).get_data(as_text=True)
    assert '<html lang="zh-CN">' in html


def test_progress_page_shows_credit_coverage_and_what_is_missing(app, login, world, clock, api_token):
    project, lesson = world["project"], world["lesson"]
    client = _client_for(app, login, world, "learner_a")
    token = api_token(world["learner_a"])
    # 60 s of honest playing in four 15 s intervals.
    _sid, answer = _play(client, token, project, lesson, clock,
                         [(0, {"position_s": 0.0, "event": "play"})]
                         + [(15, {"position_s": 15.0 * i}) for i in range(1, 5)])
    credited = answer["lesson"]["credited_s"]
    assert credited == pytest.approx(60, abs=0.01)

    html = client.get(_own_url(world, "progress")).get_data(as_text=True)
    assert f'href="/projects/{project.id}/lessons/{lesson.id}/play"' in html   # a learner's lessons link to the player
    row = re.search(rf'<tr data-testid="lesson-row" data-lesson-id="{lesson.id}">(.*?)</tr>', html, re.S).group(1)
    assert f'data-seconds="{credited}"' in row
    assert "1:00" in row                       # credited
    assert "10:00" in row                      # lesson length
    assert "10%" in row                        # 60 s of 600 s covered
    assert "In progress" in row
    other = re.search(rf'<tr data-testid="lesson-row" data-lesson-id="{world["short_lesson"].id}">(.*?)</tr>',
                      html, re.S).group(1)
    assert "Not started" in other and "0%" in other
    # 1 required hour = 45 min = 2700 s; 60 s credited, 2640 s missing = 0.98 h, shown rounded up.
    missing = re.search(r'data-testid="missing">(.*?)</p>', html, re.S).group(1)
    assert "1.0 learning hours" in missing and "44:00" in missing
    # The two lessons can give at most 900 s more, far from the 2640 s missing: the page says so.
    assert 'data-testid="short-of-content"' in html and "ask your class manager" in html
    assert re.search(r'data-testid="hours">\s*0\.0', html)
    # the tutor reads the same figures about the learner, not advice addressed to themself
    tutor_page = _client_for(app, login, world, "tutor_a").get(
        f"/projects/{project.id}/learners/{world['learner_a'].id}/progress").get_data(as_text=True)
    shortage = re.search(r'data-testid="short-of-content">(.*?)</p>', tutor_page, re.S).group(1)
    assert "this learner" in shortage and "open to you" not in shortage and "your class manager" not in shortage


def test_progress_page_says_when_hours_are_reached(app, login, world, clock, api_token, make_project, make_course,
                                                   enroll):
    project = make_project("Short", required_hours=0.5, minutes_per_hour=1)  # 30 s make the required hours
    course = make_course(project, durations=(120,))
    lesson = course.modules[0].lessons[0]
    enroll(world["learner_a"], project)
    client = _client_for(app, login, world, "learner_a")
    token = api_token(world["learner_a"])
    _play(client, token, project, lesson, clock,
          [(0, {"position_s": 0.0, "event": "play"}), (15, {"position_s": 15.0}), (15, {"position_s": 30.0})])
    html = client.get(f"/projects/{project.id}/progress").get_data(as_text=True)
    assert "The required learning hours are reached." in html
    assert re.search(r'data-testid="hours">\s*0\.5', html)


def test_audit_page_explains_what_was_not_credited(app, login, world, clock, api_token):
    project, lesson = world["project"], world["lesson"]
    client = _client_for(app, login, world, "learner_a")
    token = api_token(world["learner_a"])
    _play(client, token, project, lesson, clock, [
        (0, {"position_s": 0.0, "event": "play"}),
        (15, {"position_s": 15.0, "playing": False, "event": "pause"}),   # 15 s credited, then paused
        (30, {"position_s": 15.0, "event": "play"}),                      # 30 s paused: not credited
        (15, {"position_s": 30.0, "visible": False, "event": "hidden"}),  # 15 s credited, then hidden
        (15, {"position_s": 45.0, "event": "shown"}),                     # 15 s hidden: not credited
    ])
    html = client.get(_own_url(world, "audit")).get_data(as_text=True)
    assert re.search(r'data-testid="audit-credited" data-seconds="30.0"', html)
    reasons = re.search(r'data-testid="reasons">(.*?)</table>', html, re.S).group(1)
    assert 'data-reason="not_playing"' in reasons and 'data-reason="hidden"' in reasons
    not_playing = re.search(r'data-reason="not_playing">(.*?)</tr>', reasons, re.S).group(1)
    assert "0:30" in not_playing
    hidden = re.search(r'data-reason="hidden">(.*?)</tr>', reasons, re.S).group(1)
    assert "0:15" in hidden
    assert "add up to 0:30, the figure above" in html       # R13: the windows recompute the stored figure
    windows = re.search(r'data-testid="windows">(.*?)</table>', html, re.S).group(1)
    assert windows.count("<tr>") == 3                       # header + two credited windows
    # Server times in the project's zone: the clock starts at 10:00 Asia/Shanghai.
    assert "2026-03-10 10:00:00" in windows


def test_staff_see_the_learners_audit_not_their_own(app, login, world, clock, api_token):
    project, lesson = world["project"], world["lesson"]
    learner_client = _client_for(app, login, world, "learner_a")
    token = api_token(world["learner_a"])
    _play(learner_client, token, project, lesson, clock,
          [(0, {"position_s": 0.0, "event": "play"}), (15, {"position_s": 15.0})])
    staff = _client_for(app, login, world, "tutor_a")
    html = staff.get(f"/projects/{project.id}/learners/{world['learner_a'].id}/lessons/{lesson.id}/audit"
                     ).get_data(as_text=True)
    assert 'data-testid="learner"' in html and "learner_a" in html
    assert re.search(r'data-testid="audit-credited" data-seconds="15.0"', html)
    progress = staff.get(f"/projects/{project.id}/learners/{world['learner_a'].id}/progress").get_data(as_text=True)
    # Staff follow links to the learner's audit, never to a player of their own.
    assert f"/learners/{world['learner_a'].id}/lessons/{lesson.id}/audit" in progress
    assert f"/lessons/{lesson.id}/play" not in progress


def test_audit_page_of_an_unplayed_lesson(app, login, world):
    client = _client_for(app, login, world, "learner_a")
    html = client.get(_own_url(world, "audit")).get_data(as_text=True)
    assert 'data-testid="no-sessions"' in html
    assert 'data-testid="no-reasons"' in html


def test_audit_page_shows_an_administrators_correction(app, login, world, clock, api_token):
    project, lesson, learner = world["project"], world["lesson"], world["learner_a"]
    learner_client = _client_for(app, login, world, "learner_a")
    _play(learner_client, api_token(learner), project, lesson, clock,
          [(0, {"position_s": 0.0, "event": "play"}), (15, {"position_s": 15.0})])
    admin = app.test_client()
    response = admin.post(f"/api/v1/projects/{project.id}/learners/{learner.id}/lessons/{lesson.id}/corrections",
                          json={"delta_s": 120, "reason": "Watched at the learning center, projector log 3/10"},
                          headers=bearer(api_token(world["admin_a"])))
    assert response.status_code == 201, response.get_json()
    html = learner_client.get(_own_url(world, "audit")).get_data(as_text=True)
    corrections = re.search(r'data-testid="corrections">(.*?)</table>', html, re.S).group(1)
    assert "Admin_A" in corrections and "+2:00" in corrections and "projector log 3/10" in corrections
    assert re.search(r'data-testid="audit-credited" data-seconds="135.0"', html)
    assert "add up to 2:15, the figure above" in html
