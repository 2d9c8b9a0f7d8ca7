"""Calibrate bench/heartbeats.py on this machine: the issue's bare Flask handler (one raw-SQL read and one
short write transaction, on SQLite or with --database-url on PostgreSQL) against its own /healthz, under the
same gunicorn command and wrk settings.

    .venv/bin/python bench/bare.py [--duration 15] [--connections 32] [--database-url postgresql://...]

Prints the figures like heartbeats.py; the last line is one JSON object with
the keys bare_per_s, healthz_per_s, ratio, p50_ms, p99_ms.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from heartbeats import BENCH, describe, free_port, gunicorn_command, log, run_baseline, run_wrk, wait_ready

sys.path.insert(0, str(BENCH))
from bare_app import drop_postgresql, init_db, init_postgresql  # noqa: E402


def measure_bare(args: argparse.Namespace, database_url: str | None = None) -> dict:
    """Serve bare_app under the app's gunicorn command and measure it against its /healthz; return the figures.

    args: wrk's duration, threads and connections. database_url: PostgreSQL (a plain postgresql:// URL),
    else SQLite in a temporary directory.
    """
    workdir = Path(tempfile.mkdtemp(prefix="xueshi-bare-"))  # the access log, and the SQLite database
    env = dict(os.environ)
    if database_url:
        init_postgresql(database_url)
        env["BARE_DATABASE_URL"] = database_url
    else:
        env["BARE_DB"] = str(workdir / "bare.db")
        init_db(env["BARE_DB"], 1000)
    port = free_port()
    cmd = gunicorn_command(port, None, None, workdir / "access.log")
    cmd[-1:] = ["--chdir", str(BENCH), "bare_app:app"]
    log("yardstick server: gunicorn " + " ".join(cmd[1:]))
    server = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        wait_ready(port, server)
        beat = ["POST", '{"add": 1}']
        run_wrk(port, "/healthz", args, 3)  # warm-up
        run_wrk(port, "/beat/1", args, 3, beat)
        healthz_before = run_baseline(port, args)
        log(describe("/healthz", healthz_before))
        bare = run_wrk(port, "/beat/1", args, args.duration, beat)
        log(describe("bare", bare))
        healthz_after = run_baseline(port, args)
        log(describe("/healthz", healthz_after))
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        if database_url:
            drop_postgresql(database_url)
        shutil.rmtree(workdir, ignore_errors=True)
    healthz_per_s = (healthz_before["ok_per_s"] + healthz_after["ok_per_s"]) / 2
    return {
        "bare_per_s": round(bare["ok_per_s"], 1),
        "healthz_per_s": round(healthz_per_s, 1),
        "ratio": round(bare["ok_per_s"] / healthz_per_s, 3),
        "p50_ms": round(bare["p50_us"] / 1000, 2),
        "p99_ms": round(bare["p99_us"] / 1000, 2),
        "errors": bare["errors"],
        "database": "postgresql" if database_url else "sqlite",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per measured wrk run")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--database-url", help="PostgreSQL (its table bare_counters is made and dropped)")
    args = parser.parse_args()
    result = measure_bare(args, args.database_url)
    log(f"bare handler/s {result['bare_per_s']}, /healthz/s {result['healthz_per_s']}, ratio {result['ratio']}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
