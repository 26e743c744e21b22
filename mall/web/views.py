from __future__ import annotations

import mimetypes

from flask import Blueprint, abort, current_app, jsonify, redirect, request, session
from flask_login import current_user
from sqlalchemy import select, text

from mall.extensions import db, redis_store
from mall.i18n import normalise_locale
from mall.identity.login import safe_next
from mall.storage.backends import StorageError, get_storage
from mall.storage.models import StoredObject
from mall.storage.services import can_read

blueprint = Blueprint("web", __name__)


@blueprint.get("/healthz")
def healthz():
    """Database, Redis and storage status: 200 when all answer, 503 otherwise."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
        db.session.rollback()
    try:
        redis_store.client.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    try:
        get_storage().check()
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "unavailable", checks=checks), 200 if healthy else 503


@blueprint.get("/lang/<code>")
def switch_language(code: str):
    locale = normalise_locale(code)
    if locale is None:
        abort(404)
    session["lang"] = locale
    if current_user.is_authenticated and current_user.locale != locale:
        current_user.locale = locale
        db.session.commit()
    return redirect(safe_next(request.args.get("next") or (request.referrer and _path(request.referrer)), "/"))


def _path(url: str) -> str | None:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    if parsed.netloc and parsed.netloc != request.host:
        return None
    return parsed.path + (f"?{parsed.query}" if parsed.query else "")


@blueprint.get("/media/<path:key>")
def media(key: str):
    """Public objects (product images, logos...), from whichever backend is configured."""
    obj = db.session.scalar(select(StoredObject).where(StoredObject.key == key))
    if obj is None or obj.is_private:
        abort(404)
    return _send(obj, max_age=86400 * 30)


@blueprint.get("/files/<int:object_id>")
def private_file(object_id: int):
    """Private objects (licence scans...), only for the owner, staff of its store or allowed operators."""
    obj = db.session.get(StoredObject, object_id)
    if obj is None:
        abort(404)
    if not can_read(current_user, obj):
        abort(404 if not current_user.is_authenticated else 403)
    storage = get_storage()
    url = storage.signed_url(obj.key, expires=300, filename=obj.filename) if obj.is_private else None
    if url:
        return redirect(url)
    return _send(obj, max_age=0, private=obj.is_private)


def _send(obj: StoredObject, *, max_age: int, private: bool = False):
    try:
        data = get_storage().read(obj.key)
    except StorageError:
        abort(404)
    response = current_app.response_class(data, mimetype=obj.content_type or mimetypes.guess_type(obj.key)[0])
    response.headers["X-Content-Type-Options"] = "nosniff"
    if private:
        response.headers["Cache-Control"] = "private, no-store"
        _set_filename(response, obj.filename)
    else:
        response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response


def _set_filename(response, filename: str) -> None:
    """``Content-Disposition`` with an ASCII fallback and the UTF-8 name (RFC 6266), as send_file does."""
    from urllib.parse import quote

    clean = "".join(ch for ch in filename if ch.isprintable() and ch not in '"\\') or "file"
    ascii_name = clean.encode("ascii", "ignore").decode() or "file"
    params = {"filename": ascii_name}
    if ascii_name != clean:
        params["filename*"] = "UTF-8''" + quote(clean, safe="")
    response.headers.set("Content-Disposition", "inline", **params)
