"""Decorating a store home: one draft edited by staff, published as numbered versions.

Every function works on the store bound to the session (``mall.tenancy``), flushes,
and leaves the commit to the request. Writers of one store are serialised by a
transaction-level advisory lock, so two editors never overwrite each other's
module list and two publishes never race for a version number. Every write leaves
an audit row (area ``merchant``).
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import func, select, text

from mall.audit.services import diff, record_audit
from mall.decoration import media
from mall.decoration.models import DecorationDraft, DecorationVersion
from mall.decoration.modules import (
    ConfigInvalid,
    DecorationError,
    Upload,
    clean_config,
    module_type,
)
from mall.decoration.rendering import invalidate_live_cache
from mall.decoration.themes import DEFAULT_THEME, Theme, themes
from mall.errors import NotFound
from mall.extensions import db
from mall.i18n import _
from mall.identity.models import User
from mall.storage.services import store_upload
from mall.tenancy.binding import require_merchant_id

MAX_MODULES = 40
IMAGE_PURPOSE = "decoration"
TRUE_VALUES = {"1", "on", "true", "yes", "y"}

__all__ = [
    "MAX_MODULES",
    "ConfigInvalid",
    "DecorationError",
    "Upload",
    "add_module",
    "current_draft",
    "draft_theme",
    "find_module",
    "get_version",
    "has_unpublished_changes",
    "list_versions",
    "live_version",
    "move_module",
    "publish",
    "publisher_names",
    "remove_module",
    "restore_version",
    "set_theme",
    "update_module",
    "update_theme_settings",
]


# ---------------------------------------------------------------- reading


def live_version() -> DecorationVersion | None:
    """The published version buyers see: the highest version number (None before the first publish)."""
    return db.session.scalar(select(DecorationVersion).order_by(DecorationVersion.version.desc()).limit(1))


def get_version(version: int) -> DecorationVersion:
    """One published version of the bound store (NotFound for a number it does not have)."""
    row = db.session.scalar(select(DecorationVersion).where(DecorationVersion.version == version))
    if row is None:
        raise NotFound(_("This version does not exist."))
    return row


def list_versions(limit: int = 20) -> list[DecorationVersion]:
    """The latest published versions, newest first."""
    return list(db.session.scalars(select(DecorationVersion).order_by(DecorationVersion.version.desc()).limit(limit)))


def publisher_names(versions: list[DecorationVersion]) -> dict[int, str]:
    """Usernames of the staff who published ``versions`` (id → name)."""
    ids = {v.published_by_id for v in versions if v.published_by_id}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def current_draft() -> DecorationDraft:
    """The store's draft for reading. Before the first edit it is an unsaved copy of the live
    version (or the default theme with no modules), so opening the editor writes nothing."""
    draft = db.session.scalar(select(DecorationDraft).order_by(DecorationDraft.id).limit(1))
    return draft if draft is not None else _new_draft()


def has_unpublished_changes(draft: DecorationDraft, live: DecorationVersion | None) -> bool:
    """Whether publishing ``draft`` would change what buyers see."""
    if live is None:
        return bool(draft.modules) or draft.theme != DEFAULT_THEME or bool(draft.settings)
    return (draft.theme, draft.settings or {}, draft.modules or []) != (live.theme, live.settings, live.modules)


def find_module(draft: DecorationDraft, module_id: str) -> dict:
    """The draft's module with this id (NotFound otherwise: e.g. another store's module id)."""
    for module in draft.modules or []:
        if module.get("id") == module_id:
            return module
    raise NotFound(_("This module does not exist (it may have been removed)."))


def draft_theme(draft: DecorationDraft) -> Theme:
    """The draft's theme (the default theme if its folder has been removed)."""
    return themes().resolve(draft.theme)


# ---------------------------------------------------------------- helpers


def _new_draft() -> DecorationDraft:
    live = live_version()
    if live is not None:
        return DecorationDraft(
            theme=live.theme,
            settings=copy.deepcopy(live.settings),
            modules=copy.deepcopy(live.modules),
            based_on_version=live.version,
        )
    return DecorationDraft(theme=DEFAULT_THEME, settings={}, modules=[])


def _lock() -> int:
    """Serialise decoration writes of the bound store until the transaction ends."""
    merchant_id = require_merchant_id()
    db.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"mall.decoration.{merchant_id}"}
    )
    return merchant_id


def _draft_for_update(actor) -> tuple[DecorationDraft, int]:
    merchant_id = _lock()
    draft = db.session.scalar(select(DecorationDraft).order_by(DecorationDraft.id).limit(1))
    if draft is None:
        draft = _new_draft()
        db.session.add(draft)
    draft.updated_at = datetime.now(UTC)
    draft.updated_by_id = getattr(actor, "id", None)
    return draft, merchant_id


def _audit(action: str, draft: DecorationDraft, merchant_id: int, actor, changes: dict | None = None) -> None:
    db.session.flush()
    record_audit(
        action,
        area="merchant",
        object_type="DecorationDraft",
        object_id=draft.id,
        merchant_id=merchant_id,
        changes=changes,
        actor=actor,
    )


def _uploaders(merchant_id: int, actor):
    owner_id = getattr(actor, "id", None)

    def image(upload: Upload) -> str:
        return store_upload(
            upload.data, upload.filename, purpose=IMAGE_PURPOSE, merchant_id=merchant_id, owner_id=owner_id
        ).key

    def video(upload: Upload) -> str:
        return media.store_video(upload.data, upload.filename, merchant_id=merchant_id, owner_id=owner_id).key

    return {
        "store_image": image,
        "store_video": video,
        "video_problem": lambda path: media.media_video_problem(path[len("/media/") :], merchant_id),
    }


def _checked_slot(theme: Theme, slot: str | None) -> str:
    if not slot:
        return theme.default_slot
    if slot not in theme.slot_names:
        raise ConfigInvalid({"slot": _("This theme has no such area.")})
    return slot


# ---------------------------------------------------------------- modules


def add_module(
    actor, type_code: str, form: Mapping[str, str], files: Mapping[str, Upload], *, slot: str | None = None
) -> dict:
    """Validate and append a module to the draft. Invalid input raises and changes nothing."""
    spec = module_type(type_code)
    draft, merchant_id = _draft_for_update(actor)
    theme = draft_theme(draft)
    if type_code not in theme.modules:
        raise DecorationError(_("The theme “%(theme)s” has no such module.", theme=theme.label), field="type")
    if len(draft.modules or []) >= MAX_MODULES:
        raise DecorationError(_("A store home holds at most %(n)s modules.", n=MAX_MODULES))
    slot = _checked_slot(theme, slot)
    config = clean_config(spec, form, files, None, **_uploaders(merchant_id, actor))
    existing = {m.get("id") for m in draft.modules or []}
    module_id = secrets.token_hex(4)
    while module_id in existing:
        module_id = secrets.token_hex(4)
    module = {"id": module_id, "type": type_code, "slot": slot, "config": config}
    draft.modules = [*copy.deepcopy(draft.modules or []), module]
    _audit("decoration.module_add", draft, merchant_id, actor, {"module": [None, module_id], "type": [None, type_code]})
    return module


def update_module(
    actor, module_id: str, form: Mapping[str, str], files: Mapping[str, Upload], *, slot: str | None = None
) -> dict:
    """Validate and replace one module's settings (and area). Invalid input raises and changes nothing."""
    draft, merchant_id = _draft_for_update(actor)
    before = find_module(draft, module_id)
    spec = module_type(before["type"])
    slot = _checked_slot(draft_theme(draft), slot or before.get("slot"))
    config = clean_config(spec, form, files, copy.deepcopy(before.get("config")), **_uploaders(merchant_id, actor))
    after = {**before, "slot": slot, "config": config}
    draft.modules = [after if m.get("id") == module_id else copy.deepcopy(m) for m in draft.modules]
    changes = diff(before.get("config") or {}, config)
    if before.get("slot") != slot:
        changes["slot"] = [before.get("slot"), slot]
    _audit("decoration.module_edit", draft, merchant_id, actor, {"module": [module_id, module_id], **changes})
    return after


def move_module(actor, module_id: str, direction: str) -> None:
    """Move a module one place up or down in the draft's order."""
    if direction not in ("up", "down"):
        raise DecorationError(_("Unknown direction."))
    draft, merchant_id = _draft_for_update(actor)
    modules = copy.deepcopy(draft.modules or [])
    index = next((i for i, m in enumerate(modules) if m.get("id") == module_id), None)
    if index is None:
        raise NotFound(_("This module does not exist (it may have been removed)."))
    target = index - 1 if direction == "up" else index + 1
    if not 0 <= target < len(modules):
        return
    modules[index], modules[target] = modules[target], modules[index]
    draft.modules = modules
    _audit("decoration.module_move", draft, merchant_id, actor, {"position": [index + 1, target + 1]})


def remove_module(actor, module_id: str) -> None:
    """Remove a module from the draft (published versions keep theirs)."""
    draft, merchant_id = _draft_for_update(actor)
    removed = find_module(draft, module_id)
    draft.modules = [copy.deepcopy(m) for m in draft.modules if m.get("id") != module_id]
    changes = {"module": [module_id, None], "type": [removed["type"], None]}
    _audit("decoration.module_remove", draft, merchant_id, actor, changes)


# ---------------------------------------------------------------- theme


def set_theme(actor, name: str) -> None:
    """Switch the draft's theme; settings valid in the new theme's schema are kept, the rest reset."""
    theme = themes().get(name)
    if theme is None:
        raise DecorationError(_("This theme does not exist."), field="theme")
    draft, merchant_id = _draft_for_update(actor)
    unsupported = sorted({m["type"] for m in draft.modules or [] if m.get("type") not in theme.modules})
    if unsupported:
        labels = ", ".join(str(module_type(code).label) for code in unsupported)
        raise DecorationError(
            _("The theme “%(theme)s” cannot show these modules: %(modules)s.", theme=theme.label, modules=labels),
            field="theme",
        )
    before = draft.theme
    kept = {k: v for k, v in (draft.settings or {}).items() if k in theme.settings and theme.settings[k].is_valid(v)}
    draft.theme, draft.settings = theme.name, kept
    _audit("decoration.theme", draft, merchant_id, actor, {"theme": [before, theme.name]})


def clean_theme_settings(theme: Theme, form: Mapping[str, str]) -> dict:
    """Validate a settings form against the theme's schema (ConfigInvalid per field)."""
    values: dict = {}
    errors: dict[str, str] = {}
    for key, spec in theme.settings.items():
        if spec.type == "boolean":
            values[key] = str(form.get(key, "")).strip().lower() in TRUE_VALUES
            continue
        raw = str(form.get(key, "")).strip()
        value = raw.lower() if spec.type == "color" else raw
        if not raw:
            values[key] = spec.default
        elif spec.is_valid(value):
            values[key] = value
        elif spec.type == "color":
            errors[key] = _("Enter a colour as # and six hexadecimal digits, e.g. #e4393c.")
        else:
            errors[key] = _("Choose one of the offered options.")
    if errors:
        raise ConfigInvalid(errors)
    # Only choices that differ from the theme's defaults are kept, so a theme switch carries over
    # what the merchant chose, never the previous theme's defaults.
    return {key: value for key, value in values.items() if value != theme.settings[key].default}


def update_theme_settings(actor, form: Mapping[str, str]) -> dict:
    """Validate and save the draft theme's settings (colours, font, logo position…)."""
    draft, merchant_id = _draft_for_update(actor)
    values = clean_theme_settings(draft_theme(draft), form)
    changes = diff(draft.settings or {}, values)
    draft.settings = values
    _audit("decoration.settings", draft, merchant_id, actor, changes)
    return values


# ---------------------------------------------------------------- publishing


def _check_publishable(theme_name: str, modules: list) -> Theme:
    theme = themes().get(theme_name)
    if theme is None:
        raise DecorationError(_("The theme “%(theme)s” is no longer available; choose another.", theme=theme_name))
    if any(m.get("type") not in theme.modules for m in modules):
        raise DecorationError(_("The theme “%(theme)s” cannot show every module of the draft.", theme=theme.label))
    return theme


def publish(actor) -> DecorationVersion:
    """Atomic: the draft is copied to a new version (highest number + 1), which is live from the commit."""
    draft, merchant_id = _draft_for_update(actor)
    _check_publishable(draft.theme, draft.modules or [])
    live = live_version()
    if live is not None and not has_unpublished_changes(draft, live):
        raise DecorationError(_("Nothing to publish: the draft is the same as version %(n)s.", n=live.version))
    number = (db.session.scalar(select(func.max(DecorationVersion.version))) or 0) + 1
    version = DecorationVersion(
        version=number,
        theme=draft.theme,
        settings=copy.deepcopy(draft.settings or {}),
        modules=copy.deepcopy(draft.modules or []),
        published_by_id=getattr(actor, "id", None),
        published_at=datetime.now(UTC),
    )
    db.session.add(version)
    draft.based_on_version = number
    _audit("decoration.publish", draft, merchant_id, actor, {"version": [live.version if live else None, number]})
    invalidate_live_cache(merchant_id)
    return version


def restore_version(actor, number: int, *, publish_now: bool = False) -> DecorationDraft:
    """Copy a published version into the draft (replacing it); with ``publish_now`` it goes live as a
    new version at once."""
    source = get_version(number)
    draft, merchant_id = _draft_for_update(actor)
    _check_publishable(source.theme, source.modules)
    draft.theme = source.theme
    draft.settings = copy.deepcopy(source.settings)
    draft.modules = copy.deepcopy(source.modules)
    draft.based_on_version = number
    _audit("decoration.restore", draft, merchant_id, actor, {"version": [None, number]})
    if publish_now:
        live = live_version()
        if live is None or has_unpublished_changes(draft, live):
            publish(actor)
    return draft
