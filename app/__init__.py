"""Xueshi application factory."""
import os

from flask import Flask, has_request_context, request, session
from werkzeug.middleware.proxy_fix import ProxyFix

from app.extensions import babel, csrf, db, login_manager, migrate


def _select_locale() -> str:
    from flask_login import current_user

    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("locale") or request.cookies.get("locale")
    if chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def create_app(config: str | object | None = None) -> Flask:
    """Create the app from a config name ("development", "testing", "production") or class."""
    from config import CONFIGS

    app = Flask(__name__, instance_relative_config=False)
    if config is None:
        config = os.environ.get("XUESHI_CONFIG", "development")
    if isinstance(config, str):
        config = CONFIGS[config]
    if hasattr(config, "check"):
        config.check()
    app.config.from_object(config)
    proxies = app.config.get("TRUSTED_PROXIES", 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    if not app.config.get("MEDIA_SIGNING_KEY"):
        app.config["MEDIA_SIGNING_KEY"] = "media:" + app.config["SECRET_KEY"]
    from app.common.bodies import install_body_limits
    from app.common.numbers import IdConverter

    app.url_map.converters["int"] = IdConverter  # every <int:...> id: ASCII digits within the database's range
    install_body_limits(app)  # before csrf.init_app: its hook reads the form

    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not (uri.startswith("sqlite") and (":memory:" in uri or uri.rstrip("/") == "sqlite:")):
        # a pooled database (the in-memory SQLite of a unit test has one shared connection)
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options.setdefault("pool_size", app.config["DB_POOL_SIZE"])
        options.setdefault("max_overflow", app.config["DB_MAX_OVERFLOW"])
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)

    with app.app_context():
        from app.common.db import configure_engine

        configure_engine(db.engine)

    from app import models as _models  # noqa: F401  (every model known to SQLAlchemy)

    from app.accounts.auth import install_auth
    from app.common.errors import install_error_handlers
    from app.common.logging import configure_logging

    configure_logging(app)
    install_auth(app)
    install_error_handlers(app)
    _register_blueprints(app)
    _register_commands(app)
    from app.common.security import install_security_headers

    install_security_headers(app)
    from app.common.static import install_static_files

    install_static_files(app)

    _register_template_helpers(app)
    _register_roster_figures(app)
    _register_sweeps(app)
    return app


def _register_template_helpers(app: Flask) -> None:
    """Every feature offers its own helpers to templates (a lower feature never imports a higher one)."""
    from app.accounts import permissions as accounts_permissions
    from app.classrooms import permissions as classrooms_permissions, service as classrooms_service
    from app.common.templating import permission_helpers, template_helpers
    from app.courses import permissions as courses_permissions, service as courses_service
    from app.media import permissions as media_permissions

    from app.accounts import auth, labels as accounts_labels
    from app.common.labels import install_labels
    from app.courses import labels as courses_labels
    from app.media import labels as media_labels
    from app.notifications import labels as notifications_labels

    install_labels(app, accounts_labels.LABELS, courses_labels.LABELS, media_labels.LABELS,
                   notifications_labels.LABELS)
    app.jinja_env.globals["password_rules"] = auth.PASSWORD_RULES
    app.context_processor(template_helpers)
    from app.admin import homes

    app.context_processor(homes.nav_context)  # the navigation: the current role's home and the role switcher
    from app.reports import permissions as reports_permissions, service as reports_service
    from app.forums import permissions as forums_permissions

    from app.homework import permissions as homework_permissions

    for module in (accounts_permissions, courses_permissions, classrooms_permissions, media_permissions,
                   reports_permissions, homework_permissions, forums_permissions):
        app.context_processor(permission_helpers(module))
    # the admin's user page (an accounts page) shows the user's projects and classes
    app.context_processor(lambda: {"enrolled_projects": courses_service.get_enrolled_projects,
                                   "class_roles": classrooms_service.get_class_roles})
    # the learner home links a project's homework when the learner is in one of its classes (homework is per class)
    from app.homework import service as homework_service

    app.context_processor(lambda: {"homework_learner_class": homework_service.get_learner_class,
                                   "homework_to_grade": homework_service.count_to_grade})  # the class staff's home
    # the project's admin page offers its figures and export from the units the admin may see
    app.context_processor(lambda: {"report_entry_units": reports_service.get_entry_units})
    from app.notifications import service as notifications_service

    # the navigation's bell: the unread count, one COUNT query, only when a page shows it
    app.context_processor(lambda: {"unread_notifications": notifications_service.nav_unread_count})


def _register_sweeps(app: Flask) -> None:
    """Clean-ups the media worker's periodic sweep runs besides its own (MEDIA_SWEEP_EVERY_MIN)."""
    from app.homework.service import do_sweep_uploads

    app.extensions.setdefault("xueshi_sweeps", []).append(do_sweep_uploads)


def _register_roster_figures(app: Flask) -> None:
    """The class roster's forum and homework columns, from the features built on classes."""
    from app.classrooms.service import register_roster_figures
    from app.forums.service import points_by_learner
    from app.homework.service import homework_by_learner

    register_roster_figures(app, lambda project_id, ids: {
        uid: {"forum_points": points} for uid, points in points_by_learner(project_id, ids).items()})
    register_roster_figures(app, lambda project_id, ids: {
        uid: {"homework_submitted": hw["submitted"], "homework_graded": hw["graded"]}
        for uid, hw in homework_by_learner(project_id, ids).items()})


def _register_blueprints(app: Flask) -> None:
    from app.accounts import admin_views as accounts_admin
    from app.accounts import api as accounts_api
    from app.accounts import views as accounts_views
    from app.admin import homes as admin_homes
    from app.admin import views as admin_views
    from app.classrooms import api as classrooms_api
    from app.classrooms import work_views
    from app.classrooms import views as classrooms_views
    from app.common import health
    from app.common import openapi
    from app.common import site
    from app.courses import admin_views as courses_admin
    from app.courses import api as courses_api
    from app.courses import electives_admin
    from app.courses import expert_views as courses_expert
    from app.courses import views as courses_views
    from app.media import api as media_api
    from app.media import stream_api as media_stream_api
    from app.media import upload as media_upload
    from app.media import views as media_views
    from app.homework import api as homework_api
    from app.homework import brief_views as homework_briefs
    from app.homework import views as homework_views
    from app.forums import api as forums_api
    from app.forums import views as forums_views
    from app.notifications import api as notifications_api
    from app.notifications import views as notifications_views
    from app.reports import views as reports_views
    from app.tracking import api as tracking_api
    from app.tracking import views as tracking_views

    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(site.bp)
    app.register_blueprint(accounts_views.bp)
    app.register_blueprint(accounts_admin.bp)
    app.register_blueprint(admin_views.bp)
    app.register_blueprint(admin_homes.bp)
    app.register_blueprint(courses_views.bp)
    app.register_blueprint(courses_admin.bp)
    app.register_blueprint(electives_admin.bp)
    app.register_blueprint(courses_expert.bp)
    app.register_blueprint(classrooms_views.bp)
    app.register_blueprint(work_views.bp)
    app.register_blueprint(tracking_views.bp)
    app.register_blueprint(media_views.bp)
    app.register_blueprint(media_upload.bp)
    app.register_blueprint(reports_views.bp)
    app.register_blueprint(homework_views.bp)
    app.register_blueprint(homework_briefs.bp)
    app.register_blueprint(forums_views.bp)
    app.register_blueprint(notifications_views.bp)
    # The JSON API checks CSRF itself (cookie sessions only; Bearer tokens need none).
    for api_bp in (accounts_api.bp, courses_api.bp, tracking_api.bp, media_api.bp, media_stream_api.bp,
                   classrooms_api.bp, homework_api.bp, forums_api.bp, notifications_api.bp):
        csrf.exempt(api_bp)
        app.register_blueprint(api_bp)


def _register_commands(app: Flask) -> None:
    from app.accounts.cli import register as register_accounts_cli
    from app.demo import demo_command
    from app.forums.digest import register as register_forums_cli
    from app.homework.cli import register as register_homework_cli
    from app.media.cli import register as register_media_cli
    from app.notifications.cli import register as register_notifications_cli
    from app.reports.cli import register as register_reports_cli

    app.cli.add_command(demo_command)
    register_accounts_cli(app)
    register_media_cli(app)
    register_forums_cli(app)
    register_homework_cli(app)
    register_reports_cli(app)
    register_notifications_cli(app)
