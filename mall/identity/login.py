"""Flask-Login wiring: session token = user id + password stamp; per-area login pages."""

from __future__ import annotations

from flask import flash, redirect, request, url_for

from mall.extensions import db
from mall.i18n import L_

AREA_LOGIN = {"merchant": "merchant.login", "platform": "platform_auth.login"}


def init_login(app, login_manager) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_message = L_("Please log in to continue.")
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(token: str):
        from mall.identity.models import User

        user_id, _, _stamp = token.partition(":")
        if not user_id.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        if user is None or not user.is_active or user.get_id() != token:
            return None  # disabled, or the password changed since this session began
        return user

    @login_manager.unauthorized_handler
    def unauthorized():
        flash(login_manager.login_message, "info")
        endpoint = AREA_LOGIN.get((request.blueprint or "").split(".")[0], "consumer.login")
        return redirect(url_for(endpoint, next=request.full_path.rstrip("?")))


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative paths are followed after log-in (no open redirect).

    Browsers and Werkzeug drop tabs and newlines, so ``/\t/evil.example`` would become
    ``//evil.example``: any control character, space or backslash disqualifies the target.
    """
    from urllib.parse import urlsplit

    if not target or any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target
