"""The one place user-facing strings get their translation functions from."""

from __future__ import annotations

import os

from flask import current_app, g, has_request_context, request, session
from flask_babel import get_locale, gettext, lazy_gettext, ngettext

_ = gettext
L_ = lazy_gettext

__all__ = ["L_", "_", "get_locale", "ngettext", "select_locale"]

# Accept-Language tags mapped to our catalogs.
_LANG_ALIASES = {"zh": "zh_Hans_CN", "zh_CN": "zh_Hans_CN", "zh_Hans": "zh_Hans_CN", "en": "en"}


def normalise_locale(value: str | None) -> str | None:
    if not value:
        return None
    value = value.replace("-", "_")
    locales = current_app.config["MALL_LOCALES"]
    if value in locales:
        return value
    return _LANG_ALIASES.get(value) or _LANG_ALIASES.get(value.split("_")[0])


def select_locale() -> str:
    """The user's saved choice, then the ``lang`` switch (kept in the session), then Accept-Language.

    Outside a request (jobs, the CLI) it is the default locale.
    """
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    user = getattr(g, "_login_user", None)
    if user is not None and getattr(user, "is_authenticated", False) and user.locale:
        chosen = normalise_locale(user.locale)
        if chosen:
            return chosen
    chosen = normalise_locale(session.get("lang"))
    if chosen:
        return chosen
    return visitor_locale(request.accept_languages)


def visitor_locale(accept_languages) -> str:
    """The locale for a visitor who chose none: the best of Accept-Language, else the mall's default."""
    locales = current_app.config["MALL_LOCALES"]
    best = accept_languages.best_match([*locales, "zh", "zh-CN", "zh-Hans", "en-US", "en-GB"], default=None)
    return normalise_locale(best) or current_app.config["BABEL_DEFAULT_LOCALE"]


def compile_catalogs(directory: str) -> list[str]:
    """Compile every ``messages.po`` whose ``.mo`` is missing or older (run at app start)."""
    import glob

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    compiled = []
    for po_path in glob.glob(os.path.join(directory, "*", "LC_MESSAGES", "messages.po")):
        mo_path = po_path[:-3] + ".mo"
        if os.path.exists(mo_path) and os.path.getmtime(mo_path) >= os.path.getmtime(po_path):
            continue
        with open(po_path, "rb") as f:
            catalog = read_po(f)
        tmp = mo_path + f".{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            write_mo(f, catalog)
        os.replace(tmp, mo_path)
        compiled.append(mo_path)
    return compiled
