"""Configuration classes, read from the environment."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a whole number, got {value!r}") from exc


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or _sqlite_url(BASE_DIR / "instance" / "xueshi.db")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # Connections per worker process: a request holds one (its Session's), so the pool covers gunicorn's
    # THREADS with room to spare; 4 workers and a job worker stay at 90 of PostgreSQL's default 100.
    DB_POOL_SIZE = _int_env("DB_POOL_SIZE", 10)
    DB_MAX_OVERFLOW = _int_env("DB_MAX_OVERFLOW", 8)
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    MEDIA_ROOT = os.path.abspath(os.environ.get("MEDIA_ROOT", str(BASE_DIR / "media")))
    MEDIA_URL_TTL_S = _int_env("MEDIA_URL_TTL_S", 1800)
    MEDIA_SERVE_MODE = os.environ.get("MEDIA_SERVE_MODE", "app")  # app | x-accel | secure-link
    MEDIA_X_ACCEL_PREFIX = os.environ.get("MEDIA_X_ACCEL_PREFIX", "/_protected/")
    MEDIA_SIGNING_KEY = os.environ.get("MEDIA_SIGNING_KEY")  # defaults to a key derived from SECRET_KEY
    MAX_UPLOAD_BYTES = _int_env("MAX_UPLOAD_BYTES", 8 * 1024**3)
    FFMPEG_BINARY = os.environ.get("FFMPEG_BINARY")  # resolved by app.common.ffmpeg
    FFPROBE_BINARY = os.environ.get("FFPROBE_BINARY")

    HEARTBEAT_INTERVAL_S = _int_env("HEARTBEAT_INTERVAL_S", 15)

    # Forums: an author may edit a post this many seconds after writing it (moderators at any time).
    FORUM_EDIT_WINDOW_S = _int_env("FORUM_EDIT_WINDOW_S", 30 * 60)
    # Forum images: the largest upload accepted (bytes); every image is re-encoded, its metadata dropped.
    FORUM_IMAGE_MAX_BYTES = _int_env("FORUM_IMAGE_MAX_BYTES", 5 * 1024 * 1024)

    REDIS_URL = os.environ.get("REDIS_URL") or None
    HUEY_SQLITE_PATH = os.environ.get("HUEY_SQLITE_PATH", str(BASE_DIR / "instance" / "huey.db"))
    HUEY_IMMEDIATE = False

    # Hour-registration exports of more learners than this run as a background job (`flask reports worker`);
    # their files are kept in REPORTS_EXPORT_DIR (default: an "exports" folder beside HUEY_SQLITE_PATH).
    REPORTS_ASYNC_ROWS = _int_env("REPORTS_ASYNC_ROWS", 10000)
    REPORTS_EXPORT_DIR = os.environ.get("REPORTS_EXPORT_DIR", "")
    # A background export's file is deleted this many hours after it was written (`flask reports sweep`).
    REPORTS_EXPORT_TTL_H = _int_env("REPORTS_EXPORT_TTL_H", 24)

    # E-mail copies of notifications (app/notifications), sent by `flask notifications worker`; an empty
    # MAIL_SERVER sends no e-mail at all. SITE_URL (e.g. https://xueshi.example.cn) prefixes the links in them.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = _int_env("MAIL_PORT", 25)
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "").lower() in ("1", "true", "yes", "on")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_FROM = os.environ.get("MAIL_FROM", "xueshi@localhost")
    SITE_URL = os.environ.get("SITE_URL", "")

    # Failed sign-ins and card guesses are counted in the database, or in Redis when REDIS_URL is set
    # (app/accounts/limits.py); each limit reads "N per [M] second|minute|hour|day".
    SIGN_IN_LIMITS_PREFIX = os.environ.get("SIGN_IN_LIMITS_PREFIX", "xueshi:sign-in:")
    LOGIN_FAILURES_PER_ACCOUNT = os.environ.get("LOGIN_FAILURES_PER_ACCOUNT", "5 per 5 minutes")
    LOGIN_FAILURES_PER_ADDRESS = os.environ.get("LOGIN_FAILURES_PER_ADDRESS", "100 per 5 minutes")
    CARD_FAILURES_PER_ADDRESS = os.environ.get("CARD_FAILURES_PER_ADDRESS", "10 per 10 minutes")
    #: wrong group-viewing check-in codes a learner may enter (a code has 6 digits: guessing is slowed down)
    CHECKIN_FAILURES_PER_ACCOUNT = os.environ.get("CHECKIN_FAILURES_PER_ACCOUNT", "10 per 10 minutes")
    #: reminders (督促) a learner may get a day, from their class and the admins of their area together
    REMINDERS_PER_DAY = _int_env("REMINDERS_PER_DAY", 1)

    # Proxies in front of the app (nginx: 1) whose X-Forwarded-For / -Proto / -Host are believed, so
    # that per-address sign-in limits count the client's address, not the proxy's. 0: none believed.
    TRUSTED_PROXIES = _int_env("TRUSTED_PROXIES", 0)

    API_TOKEN_TTL_S = _int_env("API_TOKEN_TTL_S", 30 * 24 * 3600)
    MAX_IMPORT_BYTES = _int_env("MAX_IMPORT_BYTES", 5 * 1024 * 1024)
    MAX_IMPORT_UNPACKED_BYTES = _int_env("MAX_IMPORT_UNPACKED_BYTES", 50 * 1024 * 1024)
    MAX_CONTENT_LENGTH = None  # per route class instead (app/common/bodies.py):
    MAX_API_BODY_BYTES = _int_env("MAX_API_BODY_BYTES", 64 * 1024)  # JSON API calls
    MAX_FORM_BYTES = _int_env("MAX_FORM_BYTES", 1024 * 1024)
    #: the largest homework submission request (text and every file together)
    HOMEWORK_UPLOAD_TTL_S = _int_env("HOMEWORK_UPLOAD_TTL_S", 24 * 3600)  # an unfinished resumable upload's life
    HOMEWORK_MAX_REQUEST_BYTES = _int_env("HOMEWORK_MAX_REQUEST_BYTES", 200 * 1024 * 1024)  # HTML forms; imports and uploads have their own

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ["zh_CN", "en"]
    BOOTSTRAP_SERVE_LOCAL = True

    # Strict-Transport-Security max-age; 0 sends none (browsers would keep a test or dev host on HTTPS)
    HSTS_MAX_AGE_S = 0

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the server-side session
    DEMO_ALLOWED = True
    TESTING = False


class DevelopmentConfig(Config):
    DEBUG = False


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or "sqlite:///:memory:"
    WTF_CSRF_ENABLED = True
    HUEY_IMMEDIATE = True
    MAIL_SERVER = ""  # tests that send e-mail point it at their own SMTP sink on 127.0.0.1
    HEARTBEAT_INTERVAL_S = 15
    MEDIA_X264_PRESET = "ultrafast"
    # Tests read English pages unless they ask for the product default (zh_CN) with
    # @pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN"); tests/common/test_i18n.py checks that default.
    BABEL_DEFAULT_LOCALE = "en"
    PASSWORD_HASH_FAST = True  # argon2 at its lowest cost: tests hash many passwords


class ProductionConfig(Config):
    HSTS_MAX_AGE_S = _int_env("HSTS_MAX_AGE_S", 365 * 24 * 3600)
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "1") == "1"
    DEMO_ALLOWED = os.environ.get("XUESHI_ALLOW_DEMO") == "1"

    @classmethod
    def check(cls) -> None:
        """Refuse to start without the secrets production needs."""
        if not os.environ.get("SECRET_KEY"):
            raise RuntimeError("SECRET_KEY must be set in production (a long random string).")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
