"""Sign in and out, change password, choose the language."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.accounts import auth, service
from app.accounts.forms import AccountForm, ChangePasswordForm, LanguageForm, LoginForm
from app.accounts.limits import TooManyFailures
from app.common.db import write_transaction
from app.common.forms import form_status

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("homes.index")  # the home of the person's role


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("homes.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = auth.check_credentials(form.username.data, form.password.data, request.remote_addr)
        except TooManyFailures as exc:
            flash(exc.message, "danger")
            return render_template("accounts/login.html", form=form), exc.status, exc.headers
        if user is None:
            flash(_("Wrong username or password."), "danger")
            return render_template("accounts/login.html", form=form), 401
        with write_transaction():
            auth.do_login(user)
        if user.must_change_password:
            return redirect(url_for("accounts.change_password"))
        return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form), form_status()


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        with write_transaction():
            auth.do_logout()
    flash(_("You have signed out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    """My account: who I am, the e-mail address notifications are copied to, the way to a new password."""
    user = current_user._get_current_object()
    form = AccountForm(obj=user if request.method == "GET" else None)
    if form.validate_on_submit():
        with write_transaction():
            service.do_set_email(user, form.email.data)
        flash(_("Your account was saved."), "success")
        return redirect(url_for(".account"))
    return render_template("accounts/account.html", form=form, user=user,
                           mail_enabled=bool(current_app.config.get("MAIL_SERVER"))), 200 if request.method == "GET" else 400


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not auth.verify_password(current_user.password_hash, form.current_password.data):
            form.current_password.errors.append(_("The current password is wrong."))
        elif form.new_password.data == form.current_password.data:
            form.new_password.errors.append(_("Choose a password different from the current one."))
        elif (problem := auth.password_problem(form.new_password.data)) is not None:
            form.new_password.errors.append(problem)
        else:
            with write_transaction():
                user = current_user._get_current_object()
                user.password_hash = auth.hash_password(form.new_password.data)
                user.password_change_reason = None
                auth.do_revoke_all(user)
                auth.do_login(user)
            flash(_("Your password has been changed. Other devices have been signed out."), "success")
            return redirect(url_for("homes.index"))
    return render_template("accounts/password.html", form=form, reason=current_user.password_change_reason), form_status()


@bp.post("/language")
def set_language():
    form = LanguageForm()
    if form.validate_on_submit():
        chosen = form.locale.data
        session["locale"] = chosen
        if current_user.is_authenticated:
            with write_transaction():
                current_user._get_current_object().locale = chosen
        response = make_response(redirect(_safe_next(request.form.get("next"))))
        response.set_cookie("locale", chosen, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
        return response
    return redirect(url_for("courses.home"))
