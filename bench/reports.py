"""Report benchmark: subtree dashboards and the full hour-registration export of a synthetic province.

    .venv/bin/python bench/reports.py                     # SQLite in a fresh temp directory
    .venv/bin/python bench/reports.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/reports.py --keep              # keep the built database, print its URL
    .venv/bin/python bench/reports.py --reuse URL         # time a kept database again (no build)

What it does, in one bounded run:
1. a fresh, migrated database (a SQLite file in /tmp, or a temporary database
   created on the given PostgreSQL server and dropped at the end);
2. a synthetic province built by bulk INSERTs (SQLAlchemy Core executemany):
   5 cities x 10 counties x 20 schools, --learners learners (100,000) spread
   over the schools and enrolled in one project of 10 lessons; learner i
   studied (7 i mod 11) of the lessons, each in one ended playback session
   with two credit windows on two days of the last 40 (a million windows at
   100,000 learners), with the lesson_progress and project_day_credits totals the
   tracking service would have stored for them;
3. timed --runs times each (the median is reported): the dashboard of the
   province, of one county and of one school (app.reports.service
   .get_dashboard: figures per child unit and the 30-day series) against a
   plain SQL aggregate of the same numbers (one GROUP BY over the learners'
   lesson_progress totals and one over their project_day_credits, no org tree work);
   the figures of both must agree or the run fails;
4. the full XLSX export of the province (app.reports.exports.write over
   service.iter_export_rows, as the background job does) against a bare
   xlsxwriter write of the same rows read by one plain SQL query; the export
   runs in a subprocess of its own whose peak resident memory
   (resource.getrusage) is the export's peak memory.

Targets: province dashboard <= 300 ms and <= 3 x the plain aggregate; export of
100,000 rows <= 15 s and <= 2 x the bare write; export peak memory <= 300 MB.
The last line printed is one JSON object: dashboard_ms, dashboard_ratio,
export_s, export_ratio, export_peak_mb, database (plus a few extra keys).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CITIES, COUNTIES, SCHOOLS = 5, 10, 20
LESSONS = 10
LESSON_S = 2700
CHUNK = 20000
DAYS_BACK = 40


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sqlalchemy_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def create_pg_database(url: str) -> tuple[str, str]:
    import psycopg

    base = urlsplit(url).path.strip("/") or "xueshi"
    name = f"{base}_bench_{os.getpid()}_{secrets.token_hex(3)}"  # beside the given database, dropped at the end
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(sqlalchemy_url(url))._replace(path="/" + name)), name


def drop_pg_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_app(url: str):
    os.environ["DATABASE_URL"] = url
    from app import create_app

    return create_app("development")


# ------------------------------------------------------------------ data set

def _insert(conn, table, rows: list[dict]) -> None:
    for i in range(0, len(rows), CHUNK):
        conn.execute(table.insert(), rows[i:i + CHUNK])


def build(app, learners: int) -> dict:
    """Migrate, then insert the synthetic province in bulk; return the ids the timings need."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from app.accounts.models import OrgUnit, User
    from app.courses.models import Course, Enrollment, Lesson, Module, Project, ProjectCourse
    from app.extensions import db
    from app.tracking.models import CreditWindow, DailyCredit, LessonProgress, PlaybackSession, ProjectDayCredit

    started = time.perf_counter()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        rng = random.Random(18)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        today = now.date()
        with db.engine.begin() as conn:
            def unit(name, kind, parent_path):
                uid = conn.execute(OrgUnit.__table__.insert().values(name=name, kind=kind, path="", created_at=now,
                                                                     parent_id=int(parent_path.strip("/").split("/")[-1]) if parent_path else None)
                                   ).inserted_primary_key[0]
                path = f"{parent_path or '/'}{uid}/"
                conn.execute(OrgUnit.__table__.update().where(OrgUnit.id == uid).values(path=path))
                return uid, path

            province = unit("基准省", "province", None)
            counties, schools = [], []
            for c in range(CITIES):
                city = unit(f"第{c + 1}市", "city", province[1])
                for k in range(COUNTIES):
                    county = unit(f"第{c + 1}市第{k + 1}县", "county", city[1])
                    counties.append(county)
                    for s in range(SCHOOLS):
                        schools.append(unit(f"{county[0]}县第{s + 1}校", "school", county[1]))
            project_id = conn.execute(Project.__table__.insert().values(
                title="基准项目", org_unit_id=province[0], starts_on=today - timedelta(days=90),
                ends_on=today + timedelta(days=90), timezone="Asia/Shanghai", required_hours=5.0, minutes_per_hour=45,
                is_elective_confirmation_required=False, gap_factor=8.0, min_rate=0.5, max_rate=2.0,
                completion_ratio=0.9, cap_factor=1.0, daily_cap_s=8 * 3600, is_presence_check_enabled=False,
                presence_min_s=1200, presence_max_s=1800, presence_timeout_s=120, is_seek_ahead_forbidden=False,
                is_archived=False, weight_video=60, weight_forum=10, weight_homework=20, weight_exam=10,
                pass_score=60, good_score=80, excellent_score=90, created_at=now)).inserted_primary_key[0]
            course_id = conn.execute(Course.__table__.insert().values(
                title="基准课程", org_unit_id=province[0], is_archived=False, created_at=now)).inserted_primary_key[0]
            module_id = conn.execute(Module.__table__.insert().values(course_id=course_id, title="模块", position=1)
                                     ).inserted_primary_key[0]
            conn.execute(ProjectCourse.__table__.insert().values(project_id=project_id, course_id=course_id,
                                                                 is_required=True, position=1))
            lesson_ids = [conn.execute(Lesson.__table__.insert().values(
                module_id=module_id, title=f"第{i + 1}课", kind="video", duration_s=LESSON_S, position=i + 1,
                is_archived=False)).inserted_primary_key[0] for i in range(LESSONS)]

            # "=…" and "+…" names and numbers: the export must keep them inert
            _insert(conn, User.__table__, [
                {"username": f"r{i:06d}", "password_hash": "x", "real_name": ("=" if i % 997 == 0 else "") + f"教师{i}",
                 "teacher_no": f"R{i:08d}", "phone": f"+86138{i:08d}", "school_id": schools[i % len(schools)][0],
                 "is_active": True, "is_password_expired": False, "created_at": now}
                for i in range(learners)])
            user_ids = list(conn.execute(select(User.id).where(User.username.like("r%")).order_by(User.id)).scalars())
            _insert(conn, Enrollment.__table__, [
                {"project_id": project_id, "user_id": uid, "source": "admin", "created_at": now} for uid in user_ids])
            log(f"bench: {len(schools)} schools, {len(user_ids)} learners enrolled ({time.perf_counter() - started:.0f} s)")

            windows = 0
            for first in range(0, len(user_ids), 5000):
                sessions, progress, days = [], [], {}
                plan = []
                for i in range(first, min(first + 5000, len(user_ids))):
                    uid = user_ids[i]
                    for k in range((7 * i) % (LESSONS + 1)):
                        d1, d2 = sorted(rng.sample(range(DAYS_BACK), 2), reverse=True)
                        a, b = rng.randint(300, 1350), rng.randint(300, 1350)
                        plan.append((uid, lesson_ids[k], [(today - timedelta(days=d1), a), (today - timedelta(days=d2), b)]))
                        sessions.append({"user_id": uid, "project_id": project_id, "lesson_id": lesson_ids[k],
                                         "status": "ended", "opened_at": now, "closed_at": now, "user_agent": "bench",
                                         "last_seq": 2, "last_position_ms": (a + b) * 1000, "is_playing": False,
                                         "is_visible": True, "rate": 1.0, "credited_ms": (a + b) * 1000})
                        progress.append({"user_id": uid, "project_id": project_id, "lesson_id": lesson_ids[k],
                                         "credited_ms": (a + b) * 1000, "covered": [[0, (a + b) * 1000]],
                                         "covered_ms": (a + b) * 1000, "is_complete": False,
                                         "resume_position_ms": (a + b) * 1000, "max_position_ms": (a + b) * 1000,
                                         "updated_at": now - timedelta(days=d2)})
                        for day, s in ((today - timedelta(days=d1), a), (today - timedelta(days=d2), b)):
                            days[(uid, day)] = days.get((uid, day), 0) + s * 1000
                _insert(conn, PlaybackSession.__table__, sessions)
                _insert(conn, LessonProgress.__table__, progress)
                _insert(conn, DailyCredit.__table__, [{"user_id": u, "day": d, "credited_ms": ms}
                                                      for (u, d), ms in days.items()])
                _insert(conn, ProjectDayCredit.__table__, [{"user_id": u, "project_id": project_id, "day": d,
                                                            "credited_ms": ms} for (u, d), ms in days.items()])
                session_ids = list(conn.execute(
                    select(PlaybackSession.id).where(PlaybackSession.user_id.in_({p[0] for p in plan}))
                    .order_by(PlaybackSession.user_id, PlaybackSession.lesson_id)).scalars())
                rows = []
                for sid, (uid, lesson_id, parts) in zip(session_ids, sorted(plan, key=lambda p: (p[0], p[1])), strict=True):
                    position = 0
                    for day, s in parts:
                        start_ms = int(datetime(day.year, day.month, day.day, 2, tzinfo=timezone.utc).timestamp() * 1000)
                        rows.append({"session_id": sid, "user_id": uid, "project_id": project_id, "lesson_id": lesson_id,
                                     "day": day, "started_ms": start_ms, "ended_ms": start_ms + s * 1000,
                                     "from_position_ms": position, "to_position_ms": position + s * 1000,
                                     "credited_ms": s * 1000})
                        position += s * 1000
                _insert(conn, CreditWindow.__table__, rows)
                windows += len(rows)
            log(f"bench: {windows} credit windows ({time.perf_counter() - started:.0f} s)")
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        db.session.remove()
    return {"project_id": project_id, "province_id": province[0], "county_id": counties[len(counties) // 2][0],
            "school_id": schools[len(schools) // 3][0], "learners": len(user_ids), "windows": windows,
            "build_s": round(time.perf_counter() - started, 1)}


# ------------------------------------------------------------------ timings

PLAIN_FIGURES = """
SELECT COUNT(*), SUM(CASE WHEN ms > 0 THEN 1 ELSE 0 END), COALESCE(SUM(ms), 0),
       SUM(CASE WHEN ms >= :req THEN 1 ELSE 0 END)
FROM (SELECT e.user_id, COALESCE(SUM(lp.credited_ms), 0) AS ms
      FROM enrollments e JOIN users u ON u.id = e.user_id
      LEFT JOIN lesson_progress lp ON lp.user_id = e.user_id AND lp.project_id = e.project_id
      WHERE e.project_id = :p {where}
      GROUP BY e.user_id) x
"""
PLAIN_DAYS = """
SELECT d.day, SUM(d.credited_ms) FROM project_day_credits d
JOIN enrollments e ON e.user_id = d.user_id AND e.project_id = d.project_id JOIN users u ON u.id = d.user_id
WHERE d.project_id = :p AND d.day >= :since AND d.day <= :today {where}
GROUP BY d.day
"""
PLAIN_ROWS = """
SELECT u.real_name, u.teacher_no, u.phone, s.name, c.name, x.ms, x.last_at
FROM (SELECT e.user_id, COALESCE(SUM(lp.credited_ms), 0) AS ms, MAX(lp.updated_at) AS last_at
      FROM enrollments e LEFT JOIN lesson_progress lp ON lp.user_id = e.user_id AND lp.project_id = e.project_id
      WHERE e.project_id = :p GROUP BY e.user_id) x
JOIN users u ON u.id = x.user_id JOIN org_units s ON s.id = u.school_id JOIN org_units c ON c.id = s.parent_id
"""


def _median_ms(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def find_ids(app) -> dict:
    """The ids the timings need, read back from a database an earlier --keep run built (migrated first)."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from app.accounts.models import OrgUnit
    from app.courses.models import Enrollment, Project
    from app.extensions import db
    from app.tracking.models import CreditWindow

    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        project_id = db.session.execute(select(Project.id).where(Project.title == "基准项目")).scalar_one()
        province_id = db.session.execute(select(OrgUnit.id).where(OrgUnit.name == "基准省")).scalar_one()
        counties = list(db.session.execute(select(OrgUnit.id).where(OrgUnit.kind == "county").order_by(OrgUnit.id)).scalars())
        schools = list(db.session.execute(select(OrgUnit.id).where(OrgUnit.kind == "school").order_by(OrgUnit.id)).scalars())
        learners = db.session.execute(select(func.count()).select_from(Enrollment)
                                      .where(Enrollment.project_id == project_id)).scalar_one()
        windows = db.session.execute(select(func.count()).select_from(CreditWindow)).scalar_one()
        db.session.remove()
    return {"project_id": project_id, "province_id": province_id, "county_id": counties[len(counties) // 2],
            "school_id": schools[len(schools) // 3], "learners": learners, "windows": windows, "build_s": 0.0}


def time_dashboards(app, ids: dict, runs: int) -> dict:
    from sqlalchemy import text

    from app.accounts.models import OrgUnit
    from app.courses.models import Project
    from app.extensions import db
    from app.reports import rules, service

    out = {}
    with app.app_context():
        project = db.session.get(Project, ids["project_id"])
        req = rules.required_ms(project.required_hours, project.minutes_per_hour)
        today = service.project_today(project)
        since = today - timedelta(days=rules.DAYS - 1)
        for level in ("province", "county", "school"):
            unit = db.session.get(OrgUnit, ids[f"{level}_id"])
            scope = service.Scope(project, unit=unit)
            where = "" if level == "province" else \
                "AND u.school_id IN (SELECT id FROM org_units WHERE path LIKE :path)"
            params = {"p": project.id, "req": req, "since": since, "today": today, "path": unit.path + "%"}

            def plain():
                figures = db.session.execute(text(PLAIN_FIGURES.format(where=where)), params).one()
                days = db.session.execute(text(PLAIN_DAYS.format(where=where)), params).all()
                return figures, days

            def dashboard():
                db.session.expire_all()
                return service.get_dashboard(scope)

            dashboard(), plain()  # warm the caches of both alike
            app_ms, board = _median_ms(dashboard, runs)
            plain_ms, (figures, days) = _median_ms(plain, runs)
            got = (board.total.enrolled, board.total.started, board.total.credited_ms, board.total.completed)
            want = tuple(int(v or 0) for v in figures)
            if got != want or sum(ms for _d, ms in board.days) != sum(int(ms) for _d, ms in days):
                raise SystemExit(f"bench: {level} figures differ: dashboard {got}, plain SQL {want}")
            out[level] = {"dashboard_ms": round(app_ms, 1), "plain_ms": round(plain_ms, 1),
                          "ratio": round(app_ms / plain_ms, 2), "enrolled": got[0], "completed": got[3]}
            log(f"bench: {level}: dashboard {app_ms:.1f} ms, plain SQL {plain_ms:.1f} ms, {got[0]} learners")
        db.session.remove()
    return out


def export_once(app, ids: dict, bare: bool) -> dict:
    """Write the province's XLSX once (the app's export, or the bare write); return seconds, rows, peak MB."""
    import xlsxwriter
    from sqlalchemy import text

    from app.accounts.models import OrgUnit
    from app.courses.models import Project
    from app.extensions import db
    from app.reports import exports, service

    with app.app_context(), app.test_request_context(), tempfile.TemporaryDirectory() as tmp:
        project = db.session.get(Project, ids["project_id"])
        scope = service.Scope(project, unit=db.session.get(OrgUnit, ids["province_id"]))
        target = Path(tmp) / "out.xlsx"
        t0 = time.perf_counter()
        if bare:
            workbook = xlsxwriter.Workbook(str(target), {"constant_memory": True, "strings_to_formulas": False})
            sheet = workbook.add_worksheet()
            sheet.write_row(0, 0, [str(h) for h in exports.HEADERS])
            result = db.session.execute(text(PLAIN_ROWS), {"p": project.id},
                                        execution_options={"stream_results": True, "yield_per": 2000})
            rows = 0
            for rows, row in enumerate(result, 1):
                sheet.write_row(rows, 0, [row[0], row[1], row[2], row[3], row[4], project.title,
                                          row[5] // 270000 / 10, project.required_hours, "是" if row[5] >= 13500000 else "否",
                                          str(row[6])[:10] if row[6] else ""])
            workbook.close()
        else:
            with open(target, "wb") as out:
                rows = exports.write("xlsx", out, scope, service.iter_export_rows(scope), yes="是", no="否")
        seconds = time.perf_counter() - t0
        size = target.stat().st_size
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": round(seconds, 2), "rows": rows, "peak_mb": round(peak_mb, 1), "bytes": size}


def time_exports(url: str, ids: dict, runs: int) -> dict:
    """Each export in a fresh subprocess (its peak memory is its own); the median of `runs`."""
    results = {}
    for kind in ("bare", "app"):
        samples = []
        for _ in range(runs):
            cmd = [sys.executable, __file__, "--export-once", kind, "--database-url", url, "--ids", json.dumps(ids)]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if done.returncode != 0:
                raise SystemExit(f"bench: export subprocess failed:\n{done.stderr[-3000:]}")
            samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
        results[kind] = {"seconds": statistics.median(s["seconds"] for s in samples),
                         "peak_mb": max(s["peak_mb"] for s in samples), "rows": samples[0]["rows"],
                         "bytes": samples[0]["bytes"]}
        log(f"bench: export {kind}: {results[kind]}")
    if results["app"]["rows"] != results["bare"]["rows"]:
        raise SystemExit(f"bench: exports differ in rows: {results}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL server URL (a temporary database is made on it)")
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true",
                        help="keep the built database (printed as 'kept URL') for later --reuse runs")
    parser.add_argument("--reuse", metavar="URL",
                        help="time a database an earlier --keep run built (its SQLAlchemy URL) instead of building one")
    parser.add_argument("--skip-export", action="store_true", help="time the dashboards only")
    parser.add_argument("--export-once", choices=("app", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--ids", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.export_once:
        print(json.dumps(export_once(make_app(args.database_url), json.loads(args.ids), args.export_once == "bare")))
        return

    tmp = tempfile.mkdtemp(prefix="xueshi-bench-reports-")
    os.environ.setdefault("HUEY_SQLITE_PATH", str(Path(tmp) / "huey.db"))
    pg_name = None
    if args.reuse:
        url = sqlalchemy_url(args.reuse)
        database = "postgresql" if url.startswith("postgresql") else "sqlite"
    elif args.database_url:
        url, pg_name = create_pg_database(args.database_url)
        database = "postgresql"
    else:
        url, database = f"sqlite:///{tmp}/bench.db", "sqlite"
    try:
        app = make_app(url)
        if args.reuse:
            ids = find_ids(app)
        else:
            ids = build(app, args.learners)
            if args.keep and database == "sqlite":
                kept = Path(tempfile.gettempdir()) / f"xueshi-bench-reports-{os.getpid()}.db"
                with app.app_context():
                    from app.extensions import db as _db

                    _db.engine.dispose()
                shutil.copyfile(Path(tmp) / "bench.db", kept)
                log(f"bench: kept sqlite:///{kept}")
            elif args.keep:
                log(f"bench: kept {url}")
        log(f"bench: ids {ids}")
        boards = time_dashboards(app, ids, args.runs)
        from app.extensions import db

        with app.app_context():
            db.engine.dispose()
        export = time_exports(url, ids, args.runs) if not args.skip_export else \
            {k: {"seconds": float("nan"), "peak_mb": float("nan"), "rows": 0} for k in ("app", "bare")}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if pg_name and not args.keep:
            from app.extensions import db

            try:
                with app.app_context():
                    db.engine.dispose()
            except Exception:  # noqa: BLE001  the database goes anyway
                pass
            drop_pg_database(args.database_url, pg_name)
    result = {
        "dashboard_ms": boards["province"]["dashboard_ms"],
        "dashboard_ratio": boards["province"]["ratio"],
        "export_s": export["app"]["seconds"],
        "export_ratio": round(export["app"]["seconds"] / export["bare"]["seconds"], 2),
        "export_peak_mb": export["app"]["peak_mb"],
        "database": database,
        "plain_ms": boards["province"]["plain_ms"],
        "county_ms": boards["county"]["dashboard_ms"], "county_ratio": boards["county"]["ratio"],
        "school_ms": boards["school"]["dashboard_ms"], "school_ratio": boards["school"]["ratio"],
        "bare_export_s": export["bare"]["seconds"], "bare_peak_mb": export["bare"]["peak_mb"],
        "rows": export["app"]["rows"], "learners": ids["learners"], "windows": ids["windows"],
        "build_s": ids["build_s"], "runs": args.runs,
    }
    targets = {"dashboard_ms": result["dashboard_ms"] <= 300, "dashboard_ratio": result["dashboard_ratio"] <= 3,
               "export_s": result["export_s"] <= 15, "export_ratio": result["export_ratio"] <= 2,
               "export_peak_mb": result["export_peak_mb"] <= 300}
    result["targets_missed"] = [k for k, ok in targets.items()
                                if not ok and not (args.skip_export and k.startswith("export"))]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
