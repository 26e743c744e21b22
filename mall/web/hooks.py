"""Request hooks for every area: security headers, errors users can read, template helpers."""

from __future__ import annotations

import os

from flask import current_app, flash, g, redirect, render_template, request
from flask_wtf.csrf import CSRFError
from markupsafe import Markup

from mall.errors import DomainError
from mall.i18n import _, get_locale
from mall.web.headers import security_headers


def init_hooks(app) -> None:
    from mall.i18n import compile_catalogs

    compile_catalogs(os.path.join(os.path.dirname(app.root_path), "translations"))

    @app.after_request
    def add_security_headers(response):
        return security_headers(response, request.is_secure)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template(
            "errors/error.html",
            code=400,
            message=_("The form expired or was sent from another site. Please try again."),
        ), 400

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        if request.method == "POST" and request.referrer:
            flash(error.message, "error")
            return redirect(request.referrer)
        return render_template("errors/error.html", code=error.status_code, message=error.message), error.status_code

    for code in (403, 404, 405, 429, 500):
        app.register_error_handler(code, _http_error)

    @app.context_processor
    def template_helpers():
        return {"current_locale": str(get_locale()), "locales": app.config["MALL_LOCALES"]}

    app.add_template_global(static_part)

    @app.before_request
    def remember_user_for_locale():
        from flask_login import current_user

        # The locale selector reads the user from g without triggering a second load.
        g._login_user = current_user._get_current_object() if current_user else None


_STATIC_PARTS: dict[tuple[str, str, str], Markup] = {}


def static_part(name: str) -> Markup:
    """The template ``name``, which shows nothing but links and labels (the search bar, a visitor's
    menu), rendered once per locale and process: most pages carry it. Outside debug mode templates
    never change while the process runs, so neither does the part."""
    key = (name, str(get_locale()), request.script_root)
    part = _STATIC_PARTS.get(key)
    if part is None:
        part = Markup(render_template(name))
        if not current_app.debug:
            _STATIC_PARTS[key] = part
    return part


def _http_error(error):
    code = getattr(error, "code", 500) or 500
    messages = {
        403: _("You do not have permission to open this page."),
        404: _("This page does not exist."),
        405: _("This action is not allowed here."),
        429: _("Too many requests. Please slow down."),
        500: _("Something went wrong on our side. Please try again."),
    }
    return render_template("errors/error.html", code=code, message=messages.get(code, messages[500])), code
