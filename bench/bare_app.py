"""The yardstick of issue 4 for bench/heartbeats.py: a bare Flask handler doing one raw-SQL read
and one short write transaction (SQLite in WAL, or PostgreSQL when BARE_DATABASE_URL is set), with a
/healthz beside it. Served by bench/bare.py under the same gunicorn settings as the app; it is not
part of Xueshi.
"""
import os
import random
import sqlite3
import threading

from flask import Flask, jsonify, request

app = Flask(__name__)
_local = threading.local()


ROWS = 6000  # PostgreSQL: each request counts on a random row, as heartbeats write their own sessions'


def init_db(path: str, rows: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE counters (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
    conn.executemany("INSERT INTO counters (id, value) VALUES (?, 0)", [(i,) for i in range(1, rows + 1)])
    conn.close()


def init_postgresql(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bare_counters")
        conn.execute("CREATE TABLE bare_counters (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
        conn.execute("INSERT INTO bare_counters (id, value) SELECT i, 0 FROM generate_series(1, %s) i", (ROWS,))


def drop_postgresql(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bare_counters")


def _conn() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:  # one connection per thread, as a pool would hand out
        conn = _local.conn = sqlite3.connect(os.environ["BARE_DB"], isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=15000")
    return conn


def _pg_conn():
    conn = getattr(_local, "pg", None)
    if conn is None:
        import psycopg

        conn = _local.pg = psycopg.connect(os.environ["BARE_DATABASE_URL"], autocommit=True)
    return conn


@app.get("/healthz")
def healthz():
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}


@app.post("/beat/<int:row>")
def beat(row: int):
    add = int(request.get_json()["add"])
    if "BARE_DATABASE_URL" in os.environ:
        conn = _pg_conn()
        row = random.randint(1, ROWS)
        value = conn.execute("SELECT value FROM bare_counters WHERE id = %s", (row,)).fetchone()[0]
        conn.execute("UPDATE bare_counters SET value = value + %s WHERE id = %s", (add, row))  # autocommit
        return jsonify(value=value + add)
    conn = _conn()
    value = conn.execute("SELECT value FROM counters WHERE id = ?", (row,)).fetchone()[0]
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("UPDATE counters SET value = value + ? WHERE id = ?", (add, row))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return jsonify(value=value + add)
