"""Heartbeat benchmark: thousands of viewers ticking against gunicorn, compared with /healthz.

    .venv/bin/python bench/heartbeats.py                     # SQLite in a fresh temp instance
    .venv/bin/python bench/heartbeats.py --database-url postgresql://postgres@127.0.0.1:5432/test

What it does, in one bounded run on loopback only:
1. a fresh instance directory in /tmp: a migrated database (SQLite file, or a
   temporary database created on the given PostgreSQL server and dropped at
   the end) and a generated data set: an org tree, one project with one long
   video lesson, and --learners learners enrolled in it, in classes of 50;
   a Bearer token per learner made in-process with the accounts service;
2. the app under gunicorn as `make run` serves it (wsgi:app,
   deploy/gunicorn.conf.py: WORKERS=4 × THREADS=4 of gunicorn's gthread
   worker, access log on) with the production config, on 127.0.0.1;
3. one playback session per learner opened through the API (POST
   /api/v1/playback/sessions);
4. wrk with bench/heartbeats.lua: every connection cycles through the
   sessions, each session getting a heartbeat no sooner than its interval
   after the last, with increasing seq and a position advancing with the wall
   clock (an honest 1x viewer). An unmeasured warm-up gives every session its
   first two heartbeats (a play, then a tick that starts its credit window);
   the measured run follows at once, so it measures viewers in the middle of
   a lesson, as thousands of viewers mostly are. /healthz is measured with
   the same wrk settings on the same server, before and after, averaged;
5. a check of what the server credited, so that a fast but wrong server cannot
   pass: four "probe" viewers driven from Python at their interval during the
   measured run must be credited what they played (within 2 s), and no load
   viewer more than the wall time;
6. once the app is stopped, the yardstick of bench/bare.py (a bare Flask
   handler doing one read and one short write, same database kind, same
   gunicorn command and wrk settings): --no-bare skips it.

The last line printed is one JSON object: heartbeats_per_s, healthz_per_s,
ratio (heartbeats to /healthz), bare_per_s, bare_ratio (heartbeats to the
bare handler), p50_ms, p99_ms, database (plus a few extra keys).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = ROOT / ".venv" / "bin"
LESSON_DURATION_S = 4 * 3600  # long enough that no position reaches the end during a run
PROBES = 4  # honest viewers driven from Python during the measured run (see Probe)
PROBE_TOLERANCE_S = 2.0
PAUSE_BETWEEN_RUNS_S = 2.0
WARM_UP_ROUNDS = 2  # heartbeats per session before the measured run: a play, then a tick that credits
WARM_UP_MAX_S = 60


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ database

def sqlalchemy_url(url: str) -> str:
    """Use psycopg 3 for postgresql:// URLs (psycopg2 is not installed)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def create_pg_database(url: str) -> tuple[str, str]:
    """Create a fresh database on the server of `url`; return (its URL, its name)."""
    import psycopg

    name = f"xueshi_bench_{os.getpid()}_{secrets.token_hex(3)}"
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(sqlalchemy_url(url))
    return urlunsplit(parts._replace(path="/" + name)), name


def drop_pg_database(url: str, name: str) -> None:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------ data set

def seed(learners: int, interval_s: int, tokens_file: Path) -> dict:
    """Create the org tree, project, lesson, learners, enrolments and tokens (in-process)."""
    from datetime import timedelta

    from sqlalchemy import insert, select

    from app import create_app
    from app.accounts.auth import do_issue_token, hash_password
    from app.accounts.models import OrgUnit, RoleAssignment, User
    from app.classrooms.models import Class_
    from app.common import clock
    from app.courses.models import Course, Enrollment, Lesson, Module, Project, ProjectCourse
    from app.extensions import db

    app = create_app("production")
    with app.app_context():
        def unit(name, kind, parent=None):
            u = OrgUnit(name=name, kind=kind, parent_id=parent.id if parent else None, path="")
            db.session.add(u)
            db.session.flush()
            u.path = (parent.path if parent else "/") + f"{u.id}/"
            return u

        province = unit("Bench Province", "province")
        city = unit("Bench City", "city", province)
        county = unit("Bench County", "county", city)
        schools = [unit(f"Bench School {i}", "school", county) for i in range(1, 9)]
        today = clock.now().date()
        project = Project(
            title="Bench project", org_unit_id=province.id,
            starts_on=today - timedelta(days=10), ends_on=today + timedelta(days=60),
            heartbeat_interval_s=interval_s,
        )
        course = Course(title="Bench course", org_unit_id=province.id)
        db.session.add_all([project, course])
        db.session.flush()
        module = Module(course_id=course.id, title="Module 1", position=1)
        db.session.add(module)
        db.session.flush()
        lesson = Lesson(module_id=module.id, title="Long lesson", kind="video",
                        duration_s=LESSON_DURATION_S, position=1, media_key="bench/lesson.mp4")
        db.session.add_all([lesson, ProjectCourse(project_id=project.id, course_id=course.id, is_required=True)])
        db.session.flush()

        # Nobody logs in with a password here: one hash for all keeps set-up fast.
        password_hash = hash_password(secrets.token_urlsafe(16))
        db.session.execute(insert(User), [
            {"username": f"bench{i:06d}", "password_hash": password_hash, "real_name": f"Learner {i}",
             "teacher_no": f"B{i:08d}", "school_id": schools[i % len(schools)].id,
             "subject": "math", "stage": "primary", "is_active_flag": True}
            for i in range(learners)
        ])
        user_ids = list(db.session.execute(
            select(User.id).where(User.username.like("bench%")).order_by(User.id)).scalars())
        class_count = (len(user_ids) + 49) // 50
        db.session.execute(insert(Class_), [
            {"project_id": project.id, "name": f"Class {c + 1}", "org_unit_id": schools[c % len(schools)].id}
            for c in range(class_count)
        ])
        class_ids = list(db.session.execute(
            select(Class_.id).where(Class_.project_id == project.id).order_by(Class_.id)).scalars())
        db.session.execute(insert(Enrollment), [
            {"project_id": project.id, "user_id": uid, "source": "admin"} for uid in user_ids])
        db.session.execute(insert(RoleAssignment), [
            {"user_id": uid, "role": "learner", "class_id": class_ids[i // 50]} for i, uid in enumerate(user_ids)])
        users = db.session.execute(select(User).where(User.id.in_(user_ids)).order_by(User.id)).scalars().all()
        tokens = [do_issue_token(user)[0] for user in users]
        db.session.commit()
        tokens_file.write_text("".join(f"{t}\n" for t in tokens))
        info = {"project_id": project.id, "lesson_id": lesson.id, "learners": len(tokens)}
        db.session.remove()
        db.engine.dispose()
    return info


# ------------------------------------------------------------------ server

def gunicorn_command(port: int, workers: int | None, threads: int | None, access_log: Path) -> list[str]:
    """The command `make run` serves with (deploy/gunicorn.conf.py), bound to a loopback port.

    WORKERS and THREADS come from the environment as in `make run` (default 4 and 4) unless given here.
    """
    cmd = [str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
    if workers:
        cmd += ["--workers", str(workers)]
    if threads:
        cmd += ["--threads", str(threads)]
    # As `make run`: an access log line per request (written to a file here).
    cmd += ["--bind", f"127.0.0.1:{port}", "--access-logfile", str(access_log), "--log-level", "warning"]
    return cmd + ["wsgi:app"]


def wait_ready(port: int, proc: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not become ready in time")


class Api:
    """A tiny keep-alive JSON client, one connection per thread."""

    def __init__(self, port: int):
        self.port = port
        self.local = threading.local()

    def call(self, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict | None]:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        for attempt in range(3):
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
                return response.status, (json.loads(raw) if raw else None)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def open_sessions(api: Api, tokens: list[str], project_id: int, lesson_id: int) -> list[tuple[str, str, dict]]:
    def one(token: str):
        status, data = api.call("POST", "/api/v1/playback/sessions", token,
                                {"lesson_id": lesson_id, "project_id": project_id})
        if status != 201 or not data:
            raise SystemExit(f"opening a playback session failed: {status} {data}")
        return str(data["session_id"]), token, data

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(one, tokens))


# ------------------------------------------------------------------ wrk

def run_wrk(port: int, path_or_script: str, args: argparse.Namespace, duration_s: int,
            script_args: list[str] | None = None, split: bool = True) -> dict:
    """Run wrk with the common settings; return the JSON its script's done() prints.

    split: read how the connections were split among the workers halfway through. Without it, the
    run ends early (SIGINT, after which wrk prints its figures) once every wrk thread's script said
    "rounds done" on stderr (heartbeats.lua's ROUNDS), as the warm-up does."""
    url = f"http://127.0.0.1:{port}"
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{duration_s}s",
           "--timeout", "10s"]
    if path_or_script.endswith(".lua"):
        cmd += ["-s", path_or_script, url]
    else:
        cmd += ["-s", str(BENCH / "heartbeats_plain.lua"), url + path_or_script]
    if script_args:
        cmd += ["--"] + script_args
    time.sleep(PAUSE_BETWEEN_RUNS_S)  # let the server finish what the previous run left queued
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    split_seen: list[int] = []
    rounds_done = False
    if split:
        time.sleep(duration_s / 2)
        split_seen = connections_per_worker(port)
    else:
        finished = 0
        while finished < args.threads and (line := proc.stderr.readline()):
            finished += line.strip() == "rounds done"
        rounds_done = finished == args.threads
        if rounds_done:
            proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=duration_s + 60)
    if proc.returncode != 0:
        raise SystemExit(f"wrk failed ({proc.returncode}): {stderr.strip()}")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"wrk printed no figures:\n{stdout}\n{stderr}")
    result = json.loads(lines[-1])
    result["rounds_done"] = rounds_done
    result["connections_per_worker"] = split_seen
    seconds = result["duration_us"] / 1e6
    errors = result["err_connect"] + result["err_read"] + result["err_write"] + result["err_timeout"]
    result["ok_per_s"] = (result["requests"] - result["err_status"]) / seconds
    result["errors"] = errors + result["err_status"]
    return result


def run_baseline(port: int, args: argparse.Namespace, attempts: int = 3) -> dict:
    """/healthz with the common settings, run again (up to `attempts` times) when one worker held
    more than three quarters of the connections: the baseline is the server's, not one core's.
    A heartbeat run is never rerun, so a skewed split can only lower the ratio."""
    result = run_wrk(port, "/healthz", args, args.duration)
    for _ in range(attempts - 1):
        split = result["connections_per_worker"]
        if not split or split[0] <= 0.75 * sum(split):
            break
        log(describe("(skewed)", result) + ": measured again")
        result = run_wrk(port, "/healthz", args, args.duration)
    return result


def connections_per_worker(port: int) -> list[int]:
    """How wrk's keep-alive connections are split among the gunicorn workers (most first), read with ss.

    Each worker accepts connections for itself, so the split is chance: with
    31 of 32 on one worker a run measures one core. Printed with every run.
    """
    out = subprocess.run(["ss", "-Htnp", "state", "established", "( sport = :%d )" % port],
                         capture_output=True, text=True).stdout
    counts: dict[str, int] = {}
    for line in out.splitlines():
        pid = line.partition("pid=")[2].partition(",")[0]
        if pid:
            counts[pid] = counts.get(pid, 0) + 1
    return sorted(counts.values(), reverse=True)


def describe(name: str, r: dict) -> str:
    split = "/".join(map(str, r.get("connections_per_worker") or [])) or "?"
    return (f"{name:<11} {r['ok_per_s']:>9.0f} req/s  p50 {r['p50_us'] / 1000:6.1f} ms  "
            f"p90 {r['p90_us'] / 1000:6.1f} ms  p99 {r['p99_us'] / 1000:6.1f} ms  "
            f"({r['requests']} requests, {r['err_status']} non-2xx, "
            f"{r['errors'] - r['err_status']} socket errors; connections per worker {split})")


# ------------------------------------------------------------------ main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL server URL; a temporary database is created on it")
    parser.add_argument("--learners", type=int, default=6000,
                        help="load viewers (one session each); sessions / interval caps the offered rate")
    parser.add_argument("--interval", type=int, default=2,
                        help="heartbeat interval of the project in seconds; sessions/interval caps the offered rate")
    parser.add_argument("--duration", type=int, default=15, help="seconds per measured wrk run")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (same for both targets)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (same for both targets)")
    parser.add_argument("--workers", type=int, help="override gunicorn workers (default: as make run)")
    parser.add_argument("--gunicorn-threads", type=int, help="override gunicorn threads (default: as make run)")
    parser.add_argument("--gunicorn-arg", action="append", default=[], metavar="ARG",
                        help="extra gunicorn argument for experiments (repeatable), e.g. --gunicorn-arg=-c=extra.py")
    parser.add_argument("--profile", metavar="DIR",
                        help="record py-spy stacks (GIL holders, raw collapsed format) of every worker into DIR")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance directory")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare handler yardstick (no bare_ratio)")
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="xueshi-bench-"))
    database = "postgresql" if args.database_url else "sqlite"
    pg_name = None
    server = None
    profilers: list[subprocess.Popen] = []
    try:
        if args.database_url:
            db_url, pg_name = create_pg_database(args.database_url)
        else:
            db_url = f"sqlite:///{workdir / 'xueshi.db'}"
        env = dict(os.environ)
        env.update({
            "XUESHI_CONFIG": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "DATABASE_URL": db_url,
            "MEDIA_ROOT": str(workdir / "media"),
            "HUEY_SQLITE_PATH": str(workdir / "huey.db"),
            "SESSION_COOKIE_SECURE": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        env.pop("REDIS_URL", None)
        (workdir / "media").mkdir()
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))

        log(f"database: {database} ({db_url.split('@')[-1]}), instance {workdir}")
        t0 = time.monotonic()
        subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi:app", "db", "upgrade"], cwd=ROOT, env=env,
                       check=True, capture_output=True, text=True)
        tokens_file = workdir / "tokens.txt"
        info = seed(args.learners + PROBES, args.interval, tokens_file)
        log(f"data set: {info['learners']} learners ({PROBES} of them probe viewers) enrolled in project {info['project_id']}, "
            f"lesson {info['lesson_id']} ({LESSON_DURATION_S} s), set up in {time.monotonic() - t0:.1f} s")

        port = free_port()
        cmd = gunicorn_command(port, args.workers, args.gunicorn_threads, workdir / "access.log")
        for extra in args.gunicorn_arg:
            cmd[-1:-1] = extra.split("=", 1) if extra.startswith("-c=") else [extra]
        log("server: gunicorn " + " ".join(cmd[1:]))
        server = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
        wait_ready(port, server)

        api = Api(port)
        tokens = tokens_file.read_text().split()
        probe_tokens, tokens = tokens[:PROBES], tokens[PROBES:]
        t1 = time.monotonic()
        sessions = open_sessions(api, tokens, info["project_id"], info["lesson_id"])
        opened_s = time.monotonic() - t1
        interval = int(sessions[0][2]["heartbeat_interval_s"])
        log(f"sessions: {len(sessions)} opened through the API in {opened_s:.1f} s "
            f"({len(sessions) / opened_s:.0f}/s), heartbeat interval {interval} s")
        sessions_file = workdir / "sessions.txt"
        sessions_file.write_text("".join(f"{sid} {token}\n" for sid, token, _ in sessions))

        epoch = time.time()
        script = str(BENCH / "heartbeats.lua")

        def heartbeat_args(run: int, first_event: str, rounds: int = 0) -> list[str]:
            return [str(sessions_file), str(run * 1_000_000), f"{epoch:.3f}", str(interval),
                    first_event, str(LESSON_DURATION_S), str(args.threads), str(rounds)]

        log(f"wrk: {args.threads} threads, {args.connections} connections, {args.duration} s per run; "
            f"offered heartbeats at most {len(sessions) / interval:.0f}/s (sessions / interval)")
        run_wrk(port, "/healthz", args, 3)  # warm-up
        healthz_before = run_baseline(port, args)
        log(describe("/healthz", healthz_before))
        # Warm-up, right before the measured run: every session plays and gets a tick that starts its credit
        # window, so the measured run is viewers in the middle of a lesson, each heartbeat extending what the
        # last one credited (the cost of a lesson's first heartbeats, and of heartbeats after a gap longer
        # than the allowance, are not what thousands of viewers ticking at their interval mostly send).
        warm_up = run_wrk(port, script, args, WARM_UP_MAX_S, heartbeat_args(1, "play", WARM_UP_ROUNDS), split=False)
        log(f"warm-up     {warm_up['requests']} heartbeats in {warm_up['duration_us'] / 1e6:.1f} s "
            f"({warm_up['ok_per_s']:.0f}/s, {warm_up['errors']} failed): "
            f"{WARM_UP_ROUNDS} per session, the first a play" + (
                "" if warm_up["rounds_done"] else f"; stopped at {WARM_UP_MAX_S} s before every session had them"))
        if args.profile:
            profilers = start_profilers(server.pid, Path(args.profile), args.duration)
        probes = [Probe(port, token, info, interval, args.duration) for token in probe_tokens]
        for probe in probes:
            probe.start()
        beats = run_wrk(port, script, args, args.duration, heartbeat_args(2, "tick"))
        for probe in probes:
            probe.join(timeout=60)
        for p in profilers:
            p.wait(timeout=60)
        log(describe("heartbeats", beats))
        healthz_after = run_baseline(port, args)
        log(describe("/healthz", healthz_after))

        check = verify_credit(api, sessions, probes, info["project_id"], time.time() - epoch)
        healthz_per_s = (healthz_before["ok_per_s"] + healthz_after["ok_per_s"]) / 2
        heartbeats_per_s = beats["ok_per_s"]
        ceiling = len(sessions) / interval
        if heartbeats_per_s > 0.9 * ceiling:
            log(f"note: the rate is near the offered ceiling ({ceiling:.0f}/s): use more --learners "
                "or a longer --interval to find the server's limit")
        if beats["errors"]:
            log(f"WARNING: {beats['errors']} heartbeats failed; the figures count only the 2xx ones")
        result = {
            "heartbeats_per_s": round(heartbeats_per_s, 1),
            "healthz_per_s": round(healthz_per_s, 1),
            "ratio": round(heartbeats_per_s / healthz_per_s, 3) if healthz_per_s else 0.0,
            "bare_per_s": None,
            "bare_ratio": None,
            "p50_ms": round(beats["p50_us"] / 1000, 2),
            "p99_ms": round(beats["p99_us"] / 1000, 2),
            "database": database,
            "sessions": len(sessions),
            "interval_s": interval,
            "heartbeat_errors": beats["errors"],
            "connections_per_worker": {"healthz_before": healthz_before["connections_per_worker"],
                                       "heartbeats": beats["connections_per_worker"],
                                       "healthz_after": healthz_after["connections_per_worker"]},
            "credited_check": check,
        }
        stop_server(server)
        if not args.no_bare:
            from bare import measure_bare

            bare = measure_bare(args, db_url.replace("postgresql+psycopg://", "postgresql://", 1)
                                if args.database_url else None)
            result["bare_per_s"] = bare["bare_per_s"]
            result["bare_ratio"] = round(heartbeats_per_s / bare["bare_per_s"], 3) if bare["bare_per_s"] else 0.0
        log(f"heartbeats/s {result['heartbeats_per_s']}, /healthz/s {result['healthz_per_s']}, "
            f"ratio {result['ratio']}, bare ratio {result.get('bare_ratio')}, p50 {result['p50_ms']} ms, "
            f"p99 {result['p99_ms']} ms")
        if not check["ok"]:
            log("FAILED: " + check["problem"])
        print(json.dumps(result), flush=True)
        return 0 if check["ok"] else 1
    finally:
        for p in profilers:
            if p.poll() is None:
                p.terminate()
        if server is not None:
            stop_server(server)
        if pg_name:
            drop_pg_database(args.database_url, pg_name)
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def stop_server(server: subprocess.Popen) -> None:
    """Stop gunicorn (its whole process group) if it still runs."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


class Probe(threading.Thread):
    """An honest viewer driven from here during the measured run: play, a tick every interval, pause.

    Whatever the load, the server must credit it the content it played (R2), within
    PROBE_TOLERANCE_S: a slow answer only shifts seconds between intervals.
    """

    def __init__(self, port: int, token: str, info: dict, interval_s: int, duration_s: int):
        super().__init__(daemon=True)
        self.api = Api(port)
        self.token = token
        self.info = info
        self.interval_s = interval_s
        self.duration_s = duration_s
        self.played_s = 0.0
        self.credited_s = None
        self.error = None

    def run(self) -> None:
        try:
            status, data = self.api.call("POST", "/api/v1/playback/sessions", self.token,
                                         {"lesson_id": self.info["lesson_id"], "project_id": self.info["project_id"]})
            if status != 201:
                raise RuntimeError(f"open: {status} {data}")
            path = f"/api/v1/playback/sessions/{data['session_id']}/heartbeats"
            start = time.monotonic()
            seq = 0
            answer = None
            while True:
                elapsed = time.monotonic() - start
                last = elapsed + self.interval_s > self.duration_s - 1
                seq += 1
                body = {"seq": seq, "position_s": round(elapsed, 3), "playing": not last, "visible": True,
                        "rate": 1.0, "event": "play" if seq == 1 else ("pause" if last else "tick")}
                status, answer = self.api.call("POST", path, self.token, body)
                if status != 200:
                    raise RuntimeError(f"heartbeat: {status} {answer}")
                if last:
                    self.played_s = body["position_s"]
                    self.credited_s = answer["lesson"]["credited_s"]
                    return
                time.sleep(max(0.0, start + seq * self.interval_s - time.monotonic()))
        except Exception as exc:  # reported by verify_credit
            self.error = f"{type(exc).__name__}: {exc}"


def verify_credit(api: Api, sessions: list, probes: list[Probe], project_id: int, elapsed_s: float) -> dict:
    """Check what the server credited: probes get what they played, nobody more than the wall time."""
    problems = []
    for probe in probes:
        if probe.error or probe.credited_s is None:
            problems.append(f"probe viewer failed: {probe.error or 'did not finish'}")
        elif abs(probe.credited_s - probe.played_s) > PROBE_TOLERANCE_S:
            problems.append(f"probe viewer played {probe.played_s:.1f} s but was credited {probe.credited_s:.1f} s")
    for probe in probes:
        if probe.credited_s is not None:
            log(f"probe viewer: played {probe.played_s:.3f} s, credited {probe.credited_s:.3f} s")
    sample = random.Random(7).sample(sessions, min(40, len(sessions)))
    credited = []
    for _sid, token, _info in sample:
        status, data = api.call("GET", f"/api/v1/me/progress?project_id={project_id}", token)
        if status != 200 or not data:
            problems.append(f"progress request failed: {status} {data}")
            break
        credited.append(float(data["credited_s"]))
    median = statistics.median(credited) if credited else 0.0
    if credited:
        log(f"load viewers: median credited {median:.1f} s (min {min(credited):.1f}, max {max(credited):.1f}) "
            f"after {elapsed_s:.1f} s of wall time since the sessions opened (a viewer whose heartbeats came "
            f"further apart than the gap allowance is rightly credited nothing for that stretch)")
        if max(credited) > elapsed_s + 1:
            problems.append("a viewer was credited more than the wall time")
    return {"ok": not problems, "problem": "; ".join(problems),
            "probes": [{"played_s": round(p.played_s, 3), "credited_s": p.credited_s} for p in probes],
            "median_credited_s": round(median, 1), "wall_s": round(elapsed_s, 1)}


def start_profilers(master_pid: int, out_dir: Path, duration_s: int) -> list[subprocess.Popen]:
    """py-spy record every gunicorn worker for the measured run (needs py-spy in the venv)."""
    spy = VENV_BIN / "py-spy"
    if not spy.exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    out_dir.mkdir(parents=True, exist_ok=True)
    children = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout.split()
    procs = []
    for pid in children:
        procs.append(subprocess.Popen(
            [str(spy), "record", "--pid", pid, "--duration", str(duration_s), "--rate", "200",
             "--format", "raw", *([] if os.environ.get("SPY_ALL") else ["--gil"]),  # SPY_ALL=1: waiting threads too
             "--output", str(out_dir / f"worker-{pid}.txt"), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


if __name__ == "__main__":
    sys.exit(main())
