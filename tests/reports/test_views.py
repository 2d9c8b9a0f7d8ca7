"""Dashboards, learner lists and exports, driven over HTTP as an admin and a tutor would."""
import csv
import io
from datetime import datetime, timezone

import openpyxl
import pytest
from werkzeug.http import parse_options_header

from app.common.db import write_transaction
from app.courses.models import Project
from app.extensions import db
from tests.conftest import bearer


def _dash(client, studied, unit):
    return client.get(f"/reports/projects/{studied.project.id}/units/{studied.tree[unit].id}")


def _figure(html: str, key: str) -> str:
    import re

    match = re.search(rf'data-testid="figure-{key}">([^<]+)<', html)
    assert match, key
    return match.group(1).strip()


def test_province_dashboard_figures_and_drill_down(app, studied, make_user, login):
    admin = make_user("boss", role="org_admin", org=studied.tree["province"])
    client = login(app.test_client(), admin)
    html = _dash(client, studied, "province").get_data(as_text=True)
    assert _figure(html, "enrolled") == "6"
    assert _figure(html, "started") == "4"
    assert _figure(html, "not_started") == "2"
    assert _figure(html, "completed") == "2"
    # 300 + 60 + 120 + 400 = 880 s = 0.32 h of 45 min, shown rounded down to 0.1
    assert _figure(html, "hours") == "0.3"
    assert 'data-testid="children-chart"' in html and 'data-testid="days-chart"' in html
    # the last day's label ends at the chart's right edge instead of running past it
    days_chart = html.split('data-testid="days-chart"')[1].split("</svg>")[0]
    last_label = days_chart.split("<text ")[-1]
    assert 'text-anchor="end"' in last_label and float(last_label.split('"')[1]) >= 598
    assert "City" in html and f'/units/{studied.tree["city"].id}"' in html

    county = _dash(client, studied, "county_a").get_data(as_text=True)
    assert _figure(county, "enrolled") == "4" and _figure(county, "completed") == "1"
    assert "School A1" in county and "School A2" in county
    # the day series: dan's 120 s yesterday and the others' 760 s today
    assert county.count("<rect") >= 30


def test_learner_lists_behind_figures_link_to_progress(app, studied, make_user, login):
    admin = make_user("boss", role="org_admin", org=studied.tree["county_a"])
    client = login(app.test_client(), admin)
    base = f"/reports/projects/{studied.project.id}/units/{studied.tree['county_a'].id}/learners"
    not_started = client.get(base + "?status=not_started").get_data(as_text=True)
    assert "=cal" in not_started and "bob" not in not_started and "fay" not in not_started
    completed = client.get(base + "?status=completed").get_data(as_text=True)
    assert "ann" in completed and "bob" not in completed
    progress_url = f"/projects/{studied.project.id}/learners/{studied.learners['ann'].id}/progress"
    assert progress_url in completed
    assert client.get(progress_url).status_code == 200
    assert client.get(base + "?status=bogus").status_code == 200  # an unknown status lists everyone
    assert client.get(base + "?page=x").status_code == 400


def test_tutor_sees_own_class_dashboard_with_learners(app, studied, make_user, login):
    tutor = make_user("tutor_a", role="tutor", cls=studied.cls)
    client = login(app.test_client(), tutor)
    html = client.get(f"/reports/classes/{studied.cls.id}").get_data(as_text=True)
    assert _figure(html, "enrolled") == "3" and _figure(html, "completed") == "1"
    assert "ann" in html and "eve" not in html
    assert client.get("/reports/").status_code == 200
    assert _dash(client, studied, "school_a1").status_code == 404  # units are for their admins


def _xlsx_rows(data: bytes) -> list[tuple]:
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
def test_xlsx_export_hours_match_each_learners_progress_api(app, studied, make_user, login, api_token, client):
    admin = make_user("boss", role="site_admin")
    web = login(app.test_client(), admin)
    csrf = web.get("/reports/").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    response = web.post(f"/reports/projects/{studied.project.id}/units/{studied.tree['province'].id}/export",
                        data={"format": "xlsx", "csrf_token": csrf})
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    rows = _xlsx_rows(response.get_data())
    assert rows[0] == ("姓名", "教师编号", "手机", "学校", "区县", "项目", "已获学时", "要求学时", "是否完成", "最后学习日期",
                       "成绩", "等级", "证书编号")
    by_number = {row[1]: row for row in rows[1:]}
    assert len(by_number) == 6
    token = bearer(api_token(admin))
    for key, user in studied.learners.items():
        progress = client.get(f"/api/v1/projects/{studied.project.id}/learners/{user.id}/progress", headers=token).get_json()
        row = by_number[f"T-{key}"]
        assert row[6] == progress["learning_hours"], key
        assert row[7] == progress["required_hours"]
        assert row[8] == ("是" if progress["missing_s"] == 0 else "否")
        assert row[10:] == (None, None, None)
    cal = by_number["T-cal"]
    assert cal[0] == "=cal"  # kept as text: never a formula
    assert by_number["T-ann"][3:5] == ("School A1", "County A") and by_number["T-dan"][9] == "2026-03-09"


def test_csv_export_has_bom_and_inert_cells(app, studied, make_user, login):
    admin = make_user("boss", role="org_admin", org=studied.tree["school_a1"])
    web = login(app.test_client(), admin)
    csrf = web.get("/reports/").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    response = web.post(f"/reports/projects/{studied.project.id}/units/{studied.tree['school_a1'].id}/export",
                        data={"format": "csv", "csrf_token": csrf})
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] and "'=cal" in [r[0] for r in rows[1:]]
    assert {r[3] for r in rows[1:]} == {"School A1"}  # nothing of another school


def test_export_file_is_named_by_the_projects_calendar_day(app, studied, make_user, login, clock):
    admin = make_user("boss", role="org_admin", org=studied.tree["school_a1"])
    web = login(app.test_client(), admin)
    csrf = web.get("/reports/").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    clock.set(datetime(2026, 12, 4, 16, 25, tzinfo=timezone.utc))  # 00:25 on 5 December in Shanghai
    response = web.post(f"/reports/projects/{studied.project.id}/units/{studied.tree['school_a1'].id}/export",
                        data={"format": "csv", "csrf_token": csrf})
    assert response.status_code == 200
    name = _download_name(response)
    assert name.endswith("20261205.csv") and studied.project.title in name and studied.tree["school_a1"].name in name


def test_export_file_name_drops_what_a_file_system_refuses(app, studied, make_user, login, clock):
    admin = make_user("boss", role="org_admin", org=studied.tree["school_a1"])
    web = login(app.test_client(), admin)
    with write_transaction():
        db.session.get(Project, studied.project.id).title = 'Term 1/2: "why?" <draft>'
    csrf = web.get("/reports/").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    response = web.post(f"/reports/projects/{studied.project.id}/units/{studied.tree['school_a1'].id}/export",
                        data={"format": "xlsx", "csrf_token": csrf})
    assert response.status_code == 200
    name = _download_name(response)
    assert not any(c in name for c in '/:?<>|"'), name
    assert name.startswith("Term 1_2_ _why_ _draft-") and name.endswith(".xlsx"), name


def _download_name(response) -> str:
    _kind, options = parse_options_header(response.headers["Content-Disposition"])
    return options["filename"]  # werkzeug reads filename*=UTF-8''... into it when it is there


@pytest.mark.config(REPORTS_ASYNC_ROWS=2)
def test_big_export_runs_as_job_and_gives_the_same_file(app, studied, make_user, login):
    admin = make_user("boss", role="site_admin")
    web = login(app.test_client(), admin)
    csrf = web.get("/reports/").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    url = f"/reports/projects/{studied.project.id}/units/{studied.tree['province'].id}/export"
    files = {}
    for fmt in ("xlsx", "csv"):
        response = web.post(url, data={"format": fmt, "csrf_token": csrf})
        assert response.status_code == 302, fmt
        status_page = web.get(response.headers["Location"]).get_data(as_text=True)
        assert 'data-testid="export-progress"' in status_page and "export-download" in status_page
        download = response.headers["Location"] + "/download"
        files[fmt] = web.get(download).get_data()
        other = login(app.test_client(), make_user(f"other_{fmt}", role="site_admin"))
        assert other.get(download).status_code == 404  # only whoever asked for it
    app.config["REPORTS_ASYNC_ROWS"] = 10000
    for fmt in ("xlsx", "csv"):
        streamed = web.post(url, data={"format": fmt, "csrf_token": csrf})
        assert streamed.status_code == 200
        assert streamed.get_data() == files[fmt], fmt
    assert len(_xlsx_rows(files["xlsx"])) == 7


def test_dashboards_and_lists_read_stored_totals_only(app, studied, make_user, login):
    """No statement of a dashboard, learner list or export reads playback sessions or credit windows."""
    from sqlalchemy import event

    from app.extensions import db

    admin = make_user("boss", role="site_admin")
    web = login(app.test_client(), admin)
    csrf = web.get("/reports/").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    base = f"/reports/projects/{studied.project.id}/units/{studied.tree['province'].id}"
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement.lower())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        for url in (base, base + "/learners?status=started", f"/reports/classes/{studied.cls.id}"):
            assert web.get(url).status_code == 200
        assert web.post(base + "/export", data={"format": "xlsx", "csrf_token": csrf}).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    reads = [s for s in seen if "lesson_progress" in s or "project_day_credits" in s]
    assert reads, "the figures come from somewhere"
    assert not [s for s in seen if "credit_windows" in s or "playback_sessions" in s]


@pytest.mark.config(REPORTS_ASYNC_ROWS=2, REPORTS_EXPORT_TTL_H=24)
def test_old_export_files_are_deleted_and_their_page_says_so(app, studied, make_user, login, clock, tmp_path):
    """A background export's file lives REPORTS_EXPORT_TTL_H hours; the next export sweeps it away."""
    app.config["REPORTS_EXPORT_DIR"] = str(tmp_path / "exports")
    admin = make_user("boss", role="site_admin")
    web = login(app.test_client(), admin)
    csrf = web.get("/reports/").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    url = f"/reports/projects/{studied.project.id}/units/{studied.tree['province'].id}/export"
    first = web.post(url, data={"format": "csv", "csrf_token": csrf}).headers["Location"]
    (tmp_path / "exports" / "999-stray.csv").write_bytes(b"left by a killed worker")
    assert len(list((tmp_path / "exports").iterdir())) == 2
    clock.advance(23 * 3600)
    second = web.post(url, data={"format": "csv", "csrf_token": csrf}).headers["Location"]
    assert web.get(first + "/download").status_code == 200  # not yet a day old
    assert len(list((tmp_path / "exports").iterdir())) == 2  # the stray file is gone, both exports kept
    clock.advance(2 * 3600)
    web.post(url, data={"format": "xlsx", "csrf_token": csrf})
    assert web.get(first + "/download").status_code == 404
    assert 'data-testid="export-expired"' in web.get(first).get_data(as_text=True)
    assert web.get(second + "/download").status_code == 200  # 2 hours old
    assert len(list((tmp_path / "exports").iterdir())) == 2


def _days_table(html: str) -> dict[str, str]:
    import re

    table = re.search(r'data-testid="days-table">(.*?)</table>', html, re.S).group(1)
    return dict(re.findall(r"<tr><td>([^<]+)</td><td class=\"text-end\">([^<]+)</td></tr>", table))


def test_the_day_series_counts_this_projects_study_only(app, studied, make_user, make_project, make_course, enroll,
                                                        login, client, clock, api_token):
    """A learner who studies another project the same day adds nothing to this project's day series."""
    from tests.reports.conftest import Player

    admin = make_user("boss", role="site_admin")
    web = login(app.test_client(), admin)
    before = _days_table(_dash(web, studied, "province").get_data(as_text=True))
    other = make_project("Other project", org=studied.tree["province"], is_presence_check_enabled=False)
    lesson = make_course(other, "Other course", durations=(3600,)).modules[0].lessons[0]
    ann = studied.learners["ann"]
    enroll(ann, other)
    player = Player(client, clock, bearer(api_token(ann)), other.id, lesson.id)
    player.open()
    player.play(600)
    player.end()
    assert _days_table(_dash(web, studied, "province").get_data(as_text=True)) == before
    theirs = _days_table(web.get(f"/reports/projects/{other.id}/units/{studied.tree['province'].id}")
                         .get_data(as_text=True))
    assert sum(float(v) for v in theirs.values()) > 0
