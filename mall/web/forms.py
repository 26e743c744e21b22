"""Turning domain errors into form errors."""

from __future__ import annotations

from flask import flash

from mall.errors import DomainError


def attach_error(form, error: DomainError) -> None:
    """Show the message on its field when the form has it, otherwise as a flash.

    Either way the form now has errors, so the view answers 400.
    """
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*list(field.errors or []), error.message]
    else:
        form.form_errors.append(error.message)
        flash(error.message, "error")


def page_number(limit: int = 10_000) -> int:
    """The ``?page=`` of a paged list: a positive whole number up to ``limit``, else 1."""
    from flask import request

    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and 0 < int(value) <= limit else 1


def uploaded_photos(field: str = "photos") -> list:
    """The photos uploaded in a form's file field (empty file inputs skipped)."""
    from flask import request

    from mall.storage.services import Photo

    return [Photo(f.read(), f.filename or "") for f in request.files.getlist(field) if f and f.filename]


def run_step(step, message: str) -> bool:
    """Run one service call as the request's transaction: commit and flash ``message``, or roll back
    and flash the refusal's message. Returns whether it went through."""
    from mall.extensions import db

    try:
        step()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return False
    db.session.commit()
    flash(message, "success")
    return True
