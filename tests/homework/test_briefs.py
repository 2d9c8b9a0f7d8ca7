"""Class briefs: the tutor composes with the class's live figures, previews, saves, publishes; who reads them;
the figures against the roster; the print stylesheet."""
import re

from app.extensions import db
from app.homework import briefs, service
from tests.homework.conftest import PERSONAS

MATRIX_ENDPOINTS = {"briefs.class_briefs", "briefs.brief_new", "briefs.brief_edit", "briefs.brief", "briefs.project_briefs"}


def _publish(hw, persona="tutor", action="publish", title="第一期简报"):
    client = hw.clients[persona]
    return client.post(f"/classes/{hw['class_a']}/briefs/new",
                       data={"csrf_token": hw.csrf[persona], "title": title, "body": "本周**进展**顺利。", "action": action})


def _brief_id(response) -> int:
    return int(re.search(r"/briefs/(\d+)$", response.headers["Location"]).group(1))


def test_brief_matrix(hw):
    published = _brief_id(_publish(hw))
    draft = _brief_id(_publish(hw, action="save", title="草稿简报"))
    rows = [
        #  site prov  ca   cb   tut  man  tut2 lrn  lrn2 tch  anon
        ("GET", f"/classes/{hw['class_a']}/briefs", "200 200 200 404 200 200 404 200 404 404 L"),
        ("GET", f"/classes/{hw['class_a']}/briefs/new", "403 403 403 404 200 403 404 403 404 404 L"),
        ("POST", f"/classes/{hw['class_a']}/briefs/new", "403 403 403 404 302 403 404 403 404 404 L"),
        ("GET", f"/briefs/{published}", "200 200 200 404 200 200 404 200 404 404 L"),
        ("GET", f"/briefs/{draft}", "404 404 404 404 200 404 404 404 404 404 L"),
        ("GET", f"/briefs/{published}/edit", "403 403 403 404 200 403 404 403 404 404 L"),
        ("POST", f"/briefs/{draft}/edit", "404 404 404 404 302 404 404 404 404 404 L"),
        ("GET", f"/projects/{hw['project']}/briefs", "200 200 200 404 403 403 403 403 403 403 L"),
    ]
    problems = []
    for method, url, expected in rows:
        for persona, want in zip(PERSONAS, expected.split(), strict=True):
            client = hw.clients[persona]
            if method == "GET":
                response = client.get(url)
            else:
                response = client.post(url, data={"csrf_token": hw.csrf[persona], "title": "简报", "body": "x",
                                                   "action": "save"})
            got = "L" if response.status_code == 302 and "/login" in response.headers.get("Location", "") else str(
                response.status_code)
            if got != want:
                problems.append(f"{method} {url} {persona}: expected {want}, got {got}")
    assert not problems, "\n".join(problems)
    # the subtree list names the published brief only
    page = hw.clients["county_a"].get(f"/projects/{hw['project']}/briefs").get_data(as_text=True)
    assert "第一期简报" in page and "草稿简报" not in page
    assert "第一期简报" not in hw.clients["county_b"].get(f"/projects/{hw['project_b']}/briefs").get_data(as_text=True)


def test_compose_preview_publish(hw):
    client = hw.clients["tutor"]
    form = client.get(f"/classes/{hw['class_a']}/briefs/new").get_data(as_text=True)
    assert "第一次作业" in form  # the starting text names the class's homework
    preview = _publish(hw, action="preview")
    assert preview.status_code == 200 and "<strong>进展</strong>" in preview.get_data(as_text=True)
    assert briefs.get_class_briefs(service.get_class(hw["class_a"]), True) == []  # a preview saves nothing
    brief_id = _brief_id(_publish(hw))
    learner_page = hw.clients["learner"].get(f"/briefs/{brief_id}").get_data(as_text=True)
    assert "<strong>进展</strong>" in learner_page and 'data-testid="brief-stats"' in learner_page


def test_the_figures_match_the_roster(hw):
    from app.classrooms.service import get_class_members

    cls = service.get_class(hw["class_a"])
    stats = briefs.get_class_stats(cls)
    learners = [u for u, role in get_class_members(cls, "learner")]
    assert stats["learners"] == len(learners) == 2
    assert stats["started"] == 0 and stats["completed"] == 0 and stats["top"] == []
    assert stats["homework"] == [{"title": "第一次作业", "handed_in": 2, "graded": 1, "excellent": ["王老师"]}]
    counts = service.homework_by_learner(hw["project"], [u.id for u in learners])
    assert sum(c["submitted"] for c in counts.values()) == 2 and sum(c["graded"] for c in counts.values()) == 1


def test_the_brief_prints_on_a4(app):
    css = (app.static_folder and open(app.static_folder + "/css/app.css", encoding="utf-8").read())
    assert "@page { size: A4" in css
