"""JSON API: Bearer tokens and the current user."""
from datetime import datetime

from flask import Blueprint, g, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from pydantic import BaseModel, Field
from sqlalchemy import update

from app.accounts import auth
from app.accounts.limits import TooManyFailures
from app.accounts.models import ApiToken
from app.common import clock
from app.common.api import api_error, api_login_required, parse_json
from app.common.db import write_transaction
from app.common.openapi import api_doc
from app.extensions import db

bp = Blueprint("accounts_api", __name__, url_prefix="/api/v1")


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128)


class TokenOut(BaseModel):
    token: str
    expires_at: datetime


class OkOut(BaseModel):
    ok: bool


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    roles: list[str]


@bp.post("/auth/token")
@api_doc(summary=_l("Sign in: get a Bearer token"), body=TokenRequest, responses={200: TokenOut},
         errors=(400, 401, 403, 413, 415, 429), is_public=True)
@auth.no_session_auth
def issue_token():
    body = parse_json(TokenRequest, max_bytes=1024)
    try:
        user = auth.check_credentials(body.username, body.password, request.remote_addr)
    except TooManyFailures as exc:
        raise api_error(429, exc.code, exc.message, exc.headers)
    if user is None:
        raise api_error(401, "invalid_credentials", _("Wrong username or password."))
    if user.must_change_password:
        raise auth.password_change_required()
    with write_transaction():
        token, row = auth.do_issue_token(user)
    return jsonify({"token": token, "expires_at": row.expires_at.isoformat()})


@bp.post("/auth/logout")
@api_doc(summary=_l("Sign out: revoke this Bearer token (or end the cookie session)"), responses={200: OkOut},
         errors=(400,))
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
@api_doc(summary=_l("Who I am"), responses={200: MeOut})
@api_login_required
def me():
    roles = sorted({r.role for r in current_user.roles})
    return jsonify({
        "id": current_user.id,
        "username": current_user.username,
        "display_name": current_user.display_name,
        "roles": roles,
    })
