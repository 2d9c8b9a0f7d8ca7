"""Document lessons (TRACKING.md R14) through the HTTP API: reader heartbeats with `page`, the per-page allowance,
pages recorded but never credited by themselves, and what opening a session checks about the lesson's kind."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.extensions import db
from tests.tracking.conftest import Player

PAGES = 10
DURATION_S = 300  # D / pages = 30 s, so one page is credited at most max(60 s, 30 s) = 60 s


def make_pdf(path: Path, pages: int) -> None:
    """Write a PDF of `pages` numbered pages."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=14)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.cell(0, 10, f"Handbook page {number}")
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))


class Reader(Player):
    """A scripted reader: heartbeats carry `page`; the clock advances only while `playing` says so."""

    page = 1

    def read(self, seconds: float, *, turn_every: float | None = 30, step: float = 15, page: int | None = None):
        """Read for `seconds` of wall time from a 'play' event, turning a page every `turn_every` seconds."""
        self.beat_page(event="play")
        since_turn = 0.0
        left = seconds
        while left > 1e-9:
            d = min(step, left)
            self.clock.advance(d)
            left -= d
            since_turn += d
            if turn_every is not None and since_turn >= turn_every - 1e-9:
                self.page = self.page % PAGES + 1
                since_turn = 0.0
            self.beat_page(self.position + d, page=page)
        return self.last

    def beat_page(self, position: float | None = None, *, page: int | None = None, expect: int = 200, **kwargs):
        self.seq += 1
        if position is not None:
            self.position = min(position, DURATION_S)
        body = {"seq": self.seq, "position_s": self.position, "playing": kwargs.get("playing", True),
                "visible": True, "rate": 1.0, "event": kwargs.get("event", "tick"),
                "page": self.page if page is None else page}
        if page == 0:  # "no page field at all"
            del body["page"]
        response = self.post(body)
        assert response.status_code == expect, response.get_data(as_text=True)
        self.last = response.get_json()
        return self.last


@pytest.fixture
def handbook(app, setup):
    """A project with a video lesson and a 10-page PDF handbook lesson credited 300 s."""
    course = setup(durations=(600, DURATION_S))
    key = "docs/handbook.pdf"
    make_pdf(Path(app.config["MEDIA_ROOT"]) / key, PAGES)
    lesson = course.lessons[1]
    lesson.kind, lesson.media_key = "document", key
    db.session.commit()
    return course


@pytest.fixture
def reader(client, clock, handbook):
    return Reader(client, clock, handbook.headers, handbook.project.id, handbook.lessons[1].id)


def test_a_document_session_says_its_kind_and_page_count(reader):
    opened = reader.open()
    assert (opened["kind"], opened["page_count"], opened["duration_s"]) == ("document", PAGES, DURATION_S)


def test_an_honest_reader_is_credited_the_wall_time_up_to_d_and_completes(reader, handbook):
    reader.open()
    reader.read(DURATION_S + 120)
    assert reader.credited == DURATION_S  # at most D (R4), never more than the wall time
    assert reader.last["lesson"]["complete"]
    progress = reader.client.get(f"/api/v1/me/progress?project_id={handbook.project.id}",
                                 headers=handbook.headers).get_json()
    item = next(i for i in progress["lessons"] if i["lesson_id"] == reader.lesson_id)
    assert (item["page_count"], item["pages_viewed"]) == (PAGES, PAGES)


def test_a_script_that_never_turns_a_page_earns_nothing_after_60_s(reader):
    reader.open()
    reader.read(600, turn_every=None)
    assert reader.credited == 60
    audit = reader.client.get(f"/api/v1/me/lessons/{reader.lesson_id}/audit?project_id={reader.project_id}",
                              headers=reader.headers).get_json()
    same_page = next(r for r in audit["reasons"] if r["reason"] == "same_page")
    assert same_page["seconds"] == DURATION_S - 60  # then the clock stood at D: nothing moved, nothing to earn
    assert audit["pages_viewed"] == [1]


def test_a_script_that_sends_no_page_at_all_earns_nothing_after_60_s(reader):
    reader.open()
    reader.read(600, turn_every=None, page=0)
    assert reader.credited == 60


def test_reopening_the_session_does_not_restart_the_page_allowance(reader):
    reader.open()
    for _ in range(5):
        reader.read(60, turn_every=None)
        reader.open()
    assert reader.client.get(f"/api/v1/me/progress?project_id={reader.project_id}", headers=reader.headers
                             ).get_json()["lessons"][1]["credited_s"] == 60


def test_turning_a_page_earns_again_and_only_the_time_past_the_allowance_is_lost(reader):
    reader.open()
    reader.read(90, turn_every=None)      # 60 s credited, 30 s past the allowance
    assert reader.credited == 60
    reader.page = 2
    reader.read(45, turn_every=None)      # the turn restarts the allowance
    assert reader.credited == 105


def test_pages_shown_while_the_clock_is_stopped_earn_nothing_but_are_recorded(reader):
    reader.open()
    reader.beat_page(event="pause", playing=False)
    for page in range(1, PAGES + 1):
        reader.clock.advance(15)
        reader.beat_page(page=page, playing=False)
    assert reader.credited == 0
    audit = reader.client.get(f"/api/v1/me/lessons/{reader.lesson_id}/audit?project_id={reader.project_id}",
                              headers=reader.headers).get_json()
    assert audit["pages_viewed"] == list(range(1, PAGES + 1))
    assert [v["page"] for v in audit["sessions"][0]["pages"]] == list(range(1, PAGES + 1))


@pytest.mark.parametrize("page", [PAGES + 1, -1, True, 1.5, "2"])
def test_a_page_outside_the_document_is_refused_and_changes_nothing(reader, page):
    reader.open()
    response = reader.post({"seq": 1, "position_s": 0, "playing": True, "visible": True, "rate": 1.0,
                            "event": "play", "page": page})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "page"
    reader.seq = 0
    assert reader.beat_page(event="play")["accepted"]  # seq 1 is still free: nothing changed


def test_a_video_session_refuses_page(handbook, player):
    video = player(handbook, 0)
    video.open()
    response = video.post({"seq": 1, "position_s": 0, "playing": True, "visible": True, "rate": 1.0,
                           "event": "play", "page": 1})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "page"


def test_a_document_without_a_pdf_cannot_be_opened(handbook, reader):
    lesson = handbook.lessons[1]
    lesson.media_key = "docs/handbook.docx"  # an original that could not be converted
    db.session.commit()
    answer = reader.open(expect=409)
    assert answer["error"]["code"] == "document_not_readable"
    lesson.media_key = None
    db.session.commit()
    assert reader.open(expect=409)["error"]["code"] == "document_not_readable"


def test_the_page_count_is_counted_once_and_stored(reader, handbook):
    assert handbook.lessons[1].page_count is None
    reader.open()
    db.session.expire_all()
    assert db.session.get(type(handbook.lessons[1]), reader.lesson_id).page_count == PAGES


def test_an_audio_lesson_is_credited_like_a_video_and_refuses_page(setup, player):
    course = setup(durations=(120,))
    course.lessons[0].kind = "audio"
    db.session.commit()
    listener = player(course)
    listener.open()
    listener.play(90)
    assert listener.credited == 90
    response = listener.post({"seq": 99, "position_s": 90, "playing": True, "visible": True, "rate": 1.0,
                              "event": "tick", "page": 1})
    assert response.get_json()["error"]["code"] == "page"


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
def test_the_reader_page_shows_the_pdf_or_explains_the_download(handbook, client, login):
    lesson = handbook.lessons[1]
    login(client, handbook.learner)
    home = client.get("/learn").get_data(as_text=True)
    url = f"/projects/{handbook.project.id}/lessons/{lesson.id}/play"
    assert f'href="{url}"' in home  # the handbook is a link on 我的学习, not plain text
    html = client.get(url).get_data(as_text=True)
    assert 'id="xs-reader"' in html and f'data-page-count="{PAGES}"' in html
    assert "data-pdf-url=\"/media/" in html and "vendor/pdfjs/pdf.min.js" in html

    lesson.media_key = "docs/handbook.docx"  # LibreOffice was not there when it was uploaded
    db.session.commit()
    response = client.get(url)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="no-reader"' in html and 'id="xs-reader"' not in html
    assert "阅读下载的文件不计学时" in html and 'data-testid="download"' in html
