"""An audio lesson plays in the lesson player (its AAC file in the <video> element) and is credited under R1–R13."""
import json
import subprocess
from pathlib import Path

import pytest

from app.common.ffmpeg import ffmpeg_binary
from app.extensions import db
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

LESSON_S = 30


@pytest.fixture
def audio_lesson(app, org_tree, make_user, make_project, make_course, enroll):
    key = "demo/browser-audio.m4a"
    target = Path(app.config["MEDIA_ROOT"]) / key
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg_binary(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency=330:duration={LESSON_S}",
                    "-c:a", "aac", "-b:a", "48k", "-movflags", "+faststart", str(target)], check=True, timeout=120)
    learner = make_user("learner1", org=org_tree["school_a1"])
    project = make_project("Audio project", is_presence_check_enabled=False)
    course = make_course(project, title="Radio course", durations=(LESSON_S,), kind="audio")
    lesson = course.modules[0].lessons[0]
    lesson.media_key = key
    db.session.commit()
    enroll(learner, project)
    return {"project_id": project.id, "lesson_id": lesson.id, "learner": learner}


@pytest.mark.config(HEARTBEAT_INTERVAL_S=2)
def test_an_audio_lesson_plays_and_is_credited(live_server, page, audio_lesson):
    sign_in(page, live_server, audio_lesson["learner"].username)
    page.goto(f"{live_server.url}/projects/{audio_lesson['project_id']}/lessons/{audio_lesson['lesson_id']}/play")
    page.wait_for_function("() => document.querySelector('video')?.readyState >= 1")
    assert page.evaluate("document.querySelector('video').duration") == pytest.approx(LESSON_S, abs=0.5)
    page.evaluate("() => { document.querySelector('video').play(); }")
    page.wait_for_function("() => document.querySelector('video')?.currentTime > 5")

    def is_pause(response):
        return "/heartbeats" in response.url and json.loads(response.request.post_data)["event"] == "pause"

    with page.expect_response(is_pause) as info:
        page.evaluate("() => { document.querySelector('video').pause(); }")
    answer = info.value.json()
    played = json.loads(info.value.request.post_data)["position_s"]
    assert answer["lesson"]["credited_s"] == pytest.approx(played, abs=1.5)
    assert answer["lesson"]["credited_s"] >= 4
    progress = page.request.get(f"{live_server.url}/api/v1/me/progress?project_id={audio_lesson['project_id']}").json()
    assert progress["lessons"][0]["kind"] == "audio"
    assert progress["lessons"][0]["credited_s"] == answer["lesson"]["credited_s"]
