"""Shared fixtures: a fresh database per test, an injectable clock, factories, auth helpers, a live server."""
import contextvars
import fcntl
import itertools
import os
import re
import shutil
import socket
import threading
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import settings
from flask.globals import _cv_app
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from app import create_app
from app.common import clock as app_clock
from app.extensions import db
from config import TestingConfig

# Property tests judge results, not speed: on a shared 2-core machine an example may take longer than
# hypothesis's default 200 ms deadline without anything being wrong.
settings.register_profile("xueshi", deadline=None)
settings.load_profile("xueshi")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
DEFAULT_PASSWORD = "Secret-pass-1"


# ---------------------------------------------------------------- database
def _worker_suffix() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """One database per test worker: a PostgreSQL database when TEST_DATABASE_URL is set, else SQLite files."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "template.db")
    url = make_url(base)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    name = f"{url.database}_{_worker_suffix()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def empty_database(database_url: str, tmp_path, prefix: str) -> str:
    """The URL of a new empty database for migration tests: a SQLite file, or `<prefix>_<worker database>`."""
    if database_url.startswith("sqlite"):
        return "sqlite:///" + str(tmp_path / f"{prefix}.db")
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_" + database_url.rsplit("/", 1)[1]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return database_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def _schema(database_url):
    """Create the schema once per worker; SQLite keeps it as a template file to copy per test."""
    config = type("SchemaConfig", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": database_url})
    app = create_app(config)
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.remove()
        db.engine.dispose()
    return database_url


_test_counter = itertools.count()
_RUN = uuid.uuid4().hex[:8]  # keys of this run on a shared Redis never meet an earlier run's


class IsolatedClient(FlaskClient):
    """A test client whose requests get their own app context (own `g`, own db session), like real ones.

    The test's own session is rolled back around each request, so what the test reads
    afterwards comes fresh from the database.
    """

    def open(self, *args, **kwargs):
        outer = _cv_app.get(None)
        if outer is not None:
            db.session.rollback()

        def run():
            _cv_app.set(None)
            return FlaskClient.open(self, *args, **kwargs)

        try:
            return contextvars.copy_context().run(run)
        finally:
            if outer is not None:
                db.session.rollback()


@pytest.fixture
def app(_schema, tmp_path, request):
    """A fresh app and an empty database for each test."""
    url = _schema
    if url.startswith("sqlite"):
        template = url[len("sqlite:///"):]
        target = tmp_path / f"test-{next(_test_counter)}.db"
        shutil.copyfile(template, target)
        url = "sqlite:///" + str(target)
    media_root = tmp_path / "media"
    media_root.mkdir()
    overrides = {
        "SQLALCHEMY_DATABASE_URI": url,
        "MEDIA_ROOT": str(media_root),
        "HUEY_SQLITE_PATH": str(tmp_path / "huey.db"),
        # each test its own job queue, also on the shared Redis of the PostgreSQL run
        "MEDIA_HUEY_NAME": f"xueshi-test-{_worker_suffix()}-{next(_test_counter)}",
        "SIGN_IN_LIMITS_PREFIX": f"xueshi-test-{_RUN}-{_worker_suffix()}-{next(_test_counter)}:sign-in:",
    }
    marker = request.node.get_closest_marker("config")
    if marker:
        overrides.update(marker.kwargs)
    config = type("TestConfig", (TestingConfig,), overrides)
    application = create_app(config)
    application.test_client_class = IsolatedClient
    ctx = application.app_context()
    ctx.push()
    if not url.startswith("sqlite") and "SQLALCHEMY_DATABASE_URI" not in overrides_from(marker):
        _truncate_all()
    yield application
    db.session.remove()
    db.engine.dispose()
    ctx.pop()


def overrides_from(marker) -> dict:
    return dict(marker.kwargs) if marker else {}


def _truncate_all() -> None:
    """Empty what the last test left: TRUNCATE (fresh files, so rows come back in insertion order)
    of the tables that hold rows or whose id sequence has moved; truncating all 46 each time
    cost about a second a test."""
    names = [t.name for t in db.metadata.sorted_tables]
    holding = " UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in names)
    dirty = set(db.session.execute(text(holding)).scalars())
    dirty.update(db.session.execute(text(
        "SELECT t.relname FROM pg_sequences s"
        " JOIN pg_class q ON q.relname = s.sequencename AND q.relkind = 'S'"
        " JOIN pg_depend d ON d.objid = q.oid AND d.deptype IN ('a', 'i')"
        " JOIN pg_class t ON t.oid = d.refobjid"
        " WHERE s.schemaname = current_schema() AND s.last_value IS NOT NULL")).scalars())
    if dirty:
        tables = ", ".join(f'"{name}"' for name in names if name in dirty)
        db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.session.commit()


@pytest.fixture
def client(app):
    return app.test_client()


# ---------------------------------------------------------------- clock
class FakeClock:
    """A settable server clock: tests move time instead of sleeping."""

    def __init__(self, start: datetime):
        self.current = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.current

    def set(self, value: datetime) -> None:
        if value.tzinfo is None:
            raise ValueError("use an aware datetime")
        with self._lock:
            self.current = value.astimezone(timezone.utc)

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self.current = self.current + timedelta(seconds=seconds)
            return self.current


@pytest.fixture
def clock():
    """The app's clock, frozen at 2026-03-10 10:00 Asia/Shanghai (02:00 UTC) until moved."""
    fake = FakeClock(datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc))
    app_clock.set_source(fake)
    yield fake
    app_clock.set_source(None)


# ---------------------------------------------------------------- factories
_seq = itertools.count(1)


@pytest.fixture
def make_org(app):
    from app.accounts.service import do_create_org_unit

    def make(name: str | None = None, kind: str = "school", parent=None, code: str | None = None):
        unit = do_create_org_unit(name or f"Org {next(_seq)}", kind, parent, code)
        db.session.commit()
        return unit

    return make


@pytest.fixture
def org_tree(make_org):
    """province > city > county A (school A1, A2, learning center) / county B (school B1)."""
    province = make_org("Province", "province")
    city = make_org("City", "city", province)
    county_a = make_org("County A", "county", city)
    county_b = make_org("County B", "county", city)
    tree = {
        "province": province,
        "city": city,
        "county_a": county_a,
        "county_b": county_b,
        "school_a1": make_org("School A1", "school", county_a, code="A1"),
        "school_a2": make_org("School A2", "school", county_a, code="A2"),
        "center_a": make_org("Center A", "learning_center", county_a),
        "school_b1": make_org("School B1", "school", county_b, code="B1"),
    }
    return tree


@pytest.fixture
def make_user(app):
    from app.accounts.service import do_assign_role, do_create_user

    def make(username: str | None = None, *, role: str | None = None, org=None, cls=None, school=None,
             password: str = DEFAULT_PASSWORD, **fields):
        username = username or f"user{next(_seq)}"
        user = do_create_user(username, password, real_name=fields.pop("real_name", username.title()),
                              school=school or (org if role in (None, "learner") else None), check=False, **fields)
        if role:
            do_assign_role(user, role, org_unit=org if role in ("org_admin", "expert") else None,
                           class_=cls if role in ("learner", "tutor", "class_manager") else None)
        db.session.commit()
        return user

    return make


@pytest.fixture
def make_project(app, org_tree):
    from app.courses.service import do_create_project

    def make(title: str = "Project", org=None, starts_on: date = date(2026, 1, 1), ends_on: date = date(2026, 12, 31),
             **settings):
        project = do_create_project(title, org or org_tree["province"], starts_on, ends_on, **settings)
        db.session.commit()
        return project

    return make


@pytest.fixture
def make_course(app, org_tree):
    from app.courses.service import do_add_lesson, do_add_module, do_create_course, do_link_course

    def make(project=None, title: str = "Course", durations=(600,), org=None, is_required: bool = True, kind="video"):
        """Create a course with one module whose lessons have the given durations; link it to the project."""
        course = do_create_course(title, org or org_tree["province"])
        module = do_add_module(course, "Module 1")
        for i, duration in enumerate(durations, 1):
            do_add_lesson(module, f"{title} lesson {i}", kind=kind, duration_s=duration)
        if project is not None:
            do_link_course(project, course, is_required=is_required)
        db.session.commit()
        return course

    return make


@pytest.fixture
def make_lesson(make_course):
    def make(project=None, duration_s: int = 600, **kwargs):
        course = make_course(project, durations=(duration_s,), **kwargs)
        return course.modules[0].lessons[0]

    return make


@pytest.fixture
def make_class(app):
    from app.classrooms.service import do_create_class

    def make(project, org, name: str = "Class 1", **kwargs):
        cls = do_create_class(project, name, org, **kwargs)
        db.session.commit()
        return cls

    return make


@pytest.fixture
def enroll(app):
    from app.courses.service import do_enroll

    def do(user, project):
        enrollment = do_enroll(user, project)
        db.session.commit()
        return enrollment

    return do


# ---------------------------------------------------------------- auth helpers
_CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_token(client) -> str:
    """Fetch a page and return its CSRF token (the session cookie is kept by the client)."""
    html = client.get("/login", follow_redirects=True).get_data(as_text=True)
    match = _CSRF_RE.search(html)
    assert match, "no csrf token on the login page"
    return match.group(1)


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, username: str, password: str = DEFAULT_PASSWORD, follow: bool = False):
        token = csrf_token(self.client)
        return self.client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                                follow_redirects=follow)

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf()})

    def csrf(self) -> str:
        return csrf_token(self.client)

    def token(self, username: str, password: str = DEFAULT_PASSWORD) -> str:
        response = self.client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()["token"]


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def login(app):
    """login(client, user): sign the user in on that client (session cookie)."""

    def do(client, user, password: str = DEFAULT_PASSWORD):
        response = Auth(client).login(user.username, password)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return do


@pytest.fixture
def api_token(app):
    """api_token(user) -> a Bearer token string issued through POST /api/v1/auth/token."""

    def issue(user, password: str = DEFAULT_PASSWORD) -> str:
        return Auth(app.test_client()).token(user.username, password)

    return issue


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- live server and browser
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server the test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def live_server(app):
    """The test's app served over HTTP on a free loopback port (threaded), for browser tests."""
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (never 'playwright install')")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"],
    }




# ---------------------------------------------------------------- the demo's generated media
def demo_media_copy(tmp_path_factory, name: str) -> Path:
    """A private copy of the demo's generated videos and handbook, made once per test run.

    The files are generated into a cache beside the workers' temporary folders (shared by the xdist
    workers of one run, under a file lock) and copied into a folder of the caller's, which may add
    renditions to it.
    """
    from app.demo import ensure_demo_media

    cache = tmp_path_factory.getbasetemp().parent / "xueshi-demo-media"
    cache.mkdir(exist_ok=True)
    with open(cache.parent / "xueshi-demo-media.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ensure_demo_media(cache)
    root = tmp_path_factory.mktemp(name)
    shutil.copytree(cache, root, dirs_exist_ok=True)
    return root


@pytest.fixture(scope="session")
def demo_media(tmp_path_factory) -> Path:
    """The demo's generated media, in a folder of this worker's session."""
    return demo_media_copy(tmp_path_factory, "demo-media")
