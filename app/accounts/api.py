"""JSON API: Bearer tokens and the current user."""
from flask import Blueprint, g, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import BaseModel, Field
from sqlalchemy import update

from app.accounts import auth
from app.accounts.limits import TooManyFailures
from app.accounts.models import ApiToken
from app.common import clock
from app.common.api import api_error, api_login_required, parse_json
from app.common.db import write_transaction
from app.extensions import db

bp = Blueprint("accounts_api", __name__, url_prefix="/api/v1")


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128)


@bp.post("/auth/token")
@auth.no_session_auth
def issue_token():
    body = parse_json(TokenRequest, max_bytes=1024)
    try:
        user = auth.check_credentials(body.username, body.password, request.remote_addr)
    except TooManyFailures as exc:
        raise api_error(429, exc.code, exc.message, exc.headers)
    if user is None:
        raise api_error(401, "invalid_credentials", _("Wrong username or password."))
    with write_transaction():
        token, row = auth.do_issue_token(user)
    return jsonify({"token": token, "expires_at": row.expires_at.isoformat()})


@bp.post("/auth/logout")
@api_login_required
def revoke_token():
    """Revoke the Bearer token of this request (or end the cookie session)."""
    with write_transaction():
        if g.get("auth_via") == "token":
            db.session.execute(update(ApiToken).where(ApiToken.id == g.api_token_id).values(revoked_at=clock.now()))
        else:
            auth.do_logout()
    return jsonify({"ok": True})


@bp.get("/me")
@api_login_required
def me():
    roles = sorted({r.role for r in current_user.roles})
    return jsonify({
        "id": current_user.id,
        "username": current_user.username,
        "display_name": current_user.display_name,
        "roles": roles,
    })
