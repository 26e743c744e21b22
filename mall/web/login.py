"""The one log-in flow behind the three areas' log-in pages."""

from __future__ import annotations

from collections.abc import Callable

from flask import redirect, render_template, request, url_for
from flask_login import login_user

from mall.extensions import db
from mall.identity import services as accounts
from mall.identity.forms import LoginForm
from mall.identity.login import safe_next
from mall.web.forms import attach_error


def login_page(template: str, default_next: str, *, admit: Callable | None = None):
    """Render/handle a log-in form; ``admit(user)`` may refuse the area with an AccountError."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.identifier.data, form.password.data, ip=request.remote_addr)
            if admit is not None:
                admit(user)
        except accounts.AccountError as error:
            db.session.rollback()  # failures are counted in Redis; nothing of a refused log-in is kept
            attach_error(form, error)
            return render_template(template, form=form), error.status_code
        login_user(user, remember=bool(form.remember.data))
        db.session.commit()
        return redirect(safe_next(request.args.get("next"), url_for(default_next)))
    return render_template(template, form=form), 400 if form.errors else 200
