"""Media delivery pages: the signed stream route and projector mode."""
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from app.common import clock
from app.common.numbers import query_int
from app.media import delivery, serving, signing
from app.media.storage import LocalStorage

bp = Blueprint("media", __name__)

# Storage areas that never hold something to deliver (partial uploads, job scratch).
_NOT_SERVED = ("uploads/",)


def stream_answer(key: str, md5: str | None, expires: str | None, environ: dict, config) -> Response | int:
    """Return the answer to a signed stream request, or the error status to give (403, 404, 410).

    Nothing is read from storage before the signature is checked. 403 for a
    missing or wrong signature, 410 once it expired: the answers nginx's
    secure_link location gives for the same URL.
    """
    if not signing.is_valid_key(key) or key.startswith(_NOT_SERVED):
        return 404
    now_s = clock.now().timestamp()
    verdict = signing.verify(signing.stream_path(key), md5, expires, config["MEDIA_SIGNING_KEY"], now_s)
    if verdict is not signing.Verdict.VALID:
        return verdict.value
    max_age_s = int(expires) - int(now_s)  # a VALID verdict means ASCII digits
    content_type = serving.content_type_for(key)
    if config.get("MEDIA_SERVE_MODE") == "x-accel":
        return serving.x_accel_response(key, config["MEDIA_X_ACCEL_PREFIX"], content_type, max_age_s)
    # "app", and "secure-link" when a request reaches the app (no nginx in front).
    try:
        path = LocalStorage(config["MEDIA_ROOT"]).path(key)
        return serving.serve_file(
            str(path), environ, content_type, max_age_s,
            open_range_cap=config.get("MEDIA_OPEN_RANGE_CAP_BYTES", serving.OPEN_RANGE_CAP_BYTES),
        )
    except (ValueError, NotFound):
        return 404


@bp.route(signing.STREAM_PREFIX + "<path:key>", methods=["GET", "HEAD"])
def stream(key: str):
    """Serve a signed media URL (see stream_answer)."""
    answer = stream_answer(key, request.args.get("md5"), request.args.get("expires"), request.environ,
                           current_app.config)
    if isinstance(answer, int):
        abort(answer)
    return answer


@bp.get("/lessons/<int:lesson_id>/projector")
@login_required
def projector(lesson_id: int):
    """Full-screen player for group viewing at a learning center.

    Without ?project_id= the project is chosen: the only one the user may project the
    lesson in, or a list to pick from when there are several.
    """
    project_id = query_int("project_id")
    if project_id is None:
        lesson, projects = delivery.get_projects_for_projecting(current_user, lesson_id)
        if len(projects) == 1:
            return redirect(url_for("media.projector", lesson_id=lesson.id, project_id=projects[0].id))
        return render_template("media/projector_choose.html", lesson=lesson, projects=projects)
    lesson, project = delivery.get_lesson_for_projecting(current_user, lesson_id, project_id)
    return render_template("media/projector.html", lesson=lesson, project=project)
