"""Rendering a store home with its theme: the published version (cached in Redis) or a draft (preview).

The decorated part — every module, by slot — is what is cached: keyed by merchant,
theme, version and locale, so a publish (a new version) or a theme switch never
serves stale HTML, and two stores never share an entry. The store header (name,
logo, contact from the store profile) and the mall's top bar are rendered on every
request, because they change without a publish or depend on who is looking.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import redis
from flask import current_app, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from mall.catalog.cache import store_catalog_generation
from mall.catalog.store_products import grid_products, store_category_nav
from mall.decoration.models import DecorationDraft, DecorationVersion
from mall.decoration.modules import MODULE_TYPES
from mall.decoration.themes import COLOR_RE, DEFAULT_THEME, FONT_STACKS, Theme, themes
from mall.decoration.validation import is_safe_link, sanitize_html
from mall.extensions import db, redis_store
from mall.favorites.services import follow_state
from mall.i18n import get_locale
from mall.merchants.models import Merchant, StoreProfile
from mall.storage.models import StoredObject
from mall.tenancy.binding import cache_key, require_merchant_id
from mall.web.urls import external_url

log = logging.getLogger(__name__)

ASSET_ENDPOINT = "consumer.theme_static"
LIVE_CACHE_SECONDS = 3600


@dataclass(frozen=True)
class Decoration:
    """What a store page shows: a published version, or the draft when previewing."""

    theme: str
    settings: dict = field(default_factory=dict)
    modules: list = field(default_factory=list)
    version: int | None = None

    @classmethod
    def of_version(cls, row: DecorationVersion) -> Decoration:
        return cls(row.theme, dict(row.settings or {}), list(row.modules or []), row.version)

    @classmethod
    def of_draft(cls, row: DecorationDraft) -> Decoration:
        return cls(row.theme, dict(row.settings or {}), list(row.modules or []), None)


@dataclass(frozen=True)
class StoreHeader:
    name: str
    logo_url: str | None
    service_phone: str | None
    service_hours: str | None
    intro: str | None = None
    notice: str | None = None

    @property
    def tel(self) -> str | None:
        """The phone number for a ``tel:`` link (digits and ``+`` only)."""
        digits = "".join(ch for ch in self.service_phone or "" if ch.isdigit() or ch == "+")
        return digits or None


def store_header(merchant: Merchant) -> StoreHeader:
    """Name from the registry; logo, contact, intro and notice from the store's profile row, when it has one."""
    profile = db.session.scalar(select(StoreProfile).order_by(StoreProfile.id).limit(1))
    logo_url = None
    if profile is not None and profile.logo_file_id:
        logo = db.session.get(StoredObject, profile.logo_file_id)
        if logo is not None and not logo.is_private and logo.merchant_id in (None, merchant.id):
            logo_url = url_for("web.media", key=logo.key)
    return StoreHeader(
        name=merchant.name,
        logo_url=logo_url,
        service_phone=(profile.service_phone or None) if profile else None,
        service_hours=(profile.service_hours or None) if profile else None,
        intro=(profile.intro or None) if profile else None,
        notice=(profile.notice or None) if profile else None,
    )


def css_variables(theme: Theme, settings: dict) -> Markup:
    """``--shop-*`` custom properties from validated settings only (colours by regex, fonts by key)."""
    lines = []
    for key, spec in theme.settings.items():
        value = settings.get(key)
        name = "--shop-" + key.replace("_", "-")
        if spec.type == "color" and isinstance(value, str) and COLOR_RE.match(value):
            lines.append(f"{name}: {value.lower()};")
        elif spec.type == "font" and value in FONT_STACKS:
            lines.append(f"{name}: {FONT_STACKS[value]};")
    return Markup(":root {\n  " + "\n  ".join(lines) + "\n}")


def setting_classes(theme: Theme, settings: dict) -> str:
    """Body classes for layout choices: ``set-<key>-<choice>`` and ``set-<key>`` for enabled switches."""
    classes = []
    for key, spec in theme.settings.items():
        value = settings.get(key)
        if spec.type == "choice" and value in spec.choices:
            classes.append(f"set-{key}-{value}")
        elif spec.type == "boolean" and value is True:
            classes.append(f"set-{key}")
    return " ".join(classes).replace("_", "-")


def media_url(key: object) -> str | None:
    return url_for("web.media", key=key) if isinstance(key, str) and key else None


def _template_helpers(theme: Theme) -> dict:
    registry = themes()

    def asset(filename: str) -> str:
        path = registry.static_file(theme.name, filename)
        version = registry.asset_version(path, fresh=current_app.debug) if path else None
        return url_for(ASSET_ENDPOINT, theme=theme.name, filename=filename, v=version)

    return {
        "asset": asset,
        "media_url": media_url,
        "safe_link": lambda value: value if is_safe_link(value) else None,
        "rich_html": lambda value: Markup(sanitize_html(value if isinstance(value, str) else "")),
    }


def render_modules(theme: Theme, decoration: Decoration, settings: dict) -> dict[str, Markup]:
    """Every module rendered with the theme's template (theme → default → mall), grouped by slot."""
    env = themes().environment(theme.name)
    helpers = _template_helpers(theme)
    app = current_app._get_current_object()
    slots: dict[str, list[str]] = {name: [] for name in theme.slot_names}
    for module in decoration.modules:
        kind = module.get("type")
        if kind not in MODULE_TYPES or kind not in theme.modules:
            continue  # publishing refuses these; an old version could still hold one
        context = {
            **helpers,
            "module": module,
            "config": module.get("config") or {},
            "theme": theme,
            "settings": settings,
        }
        if kind == "product_grid":
            context["products"] = grid_products(require_merchant_id(), context["config"])
        app.update_template_context(context)
        slots[theme.slot_for(module.get("slot"))].append(env.get_template(f"modules/{kind}.html").render(context))
    return {name: Markup("\n".join(parts)) for name, parts in slots.items()}


def _live_key(merchant_id: int, theme: str, version: int) -> str:
    """Also keyed by the store's catalog generation: product grids change when its products do."""
    catalog = store_catalog_generation(merchant_id)
    return cache_key(
        "decoration", "live", theme, f"v{version}", f"c{catalog}", str(get_locale()), merchant_id=merchant_id
    )


def cached_live_modules(theme: Theme, decoration: Decoration, settings: dict) -> dict[str, Markup]:
    """The published version's modules, from Redis when present (keyed by merchant, theme, version, locale)."""
    merchant_id = require_merchant_id()
    key = _live_key(merchant_id, theme.name, decoration.version or 0)
    try:
        hit = redis_store.client.get(key)
    except redis.RedisError as exc:  # the page still renders without the cache
        log.warning("decoration cache unavailable: %s", exc)
        hit = None
    if hit is not None:
        return {name: Markup(html) for name, html in json.loads(hit).items()}
    slots = render_modules(theme, decoration, settings)
    try:
        redis_store.client.set(key, json.dumps({k: str(v) for k, v in slots.items()}), ex=LIVE_CACHE_SECONDS)
    except redis.RedisError as exc:
        log.warning("decoration cache unavailable: %s", exc)
    return slots


def invalidate_live_cache(merchant_id: int) -> int:
    """Drop every cached rendering of this store (all themes, versions, locales); returns how many."""
    client = redis_store.client
    try:
        keys = list(client.scan_iter(match=cache_key("decoration", "live", "*", merchant_id=merchant_id), count=500))
        return client.delete(*keys) if keys else 0
    except redis.RedisError as exc:
        log.warning("decoration cache not invalidated: %s", exc)
        return 0


def _page_context(merchant: Merchant, theme: Theme, settings: dict, *, preview: bool, home_url: str | None) -> dict:
    """What every page of a store shows around its content: header, follow button, categories, theme."""
    return {
        **_template_helpers(theme),
        "merchant": merchant,
        "header": store_header(merchant),
        "follow": follow_state(merchant.id, current_user.id if current_user.is_authenticated else None),
        "theme": theme,
        "settings": settings,
        "css_vars": css_variables(theme, settings),
        "setting_classes": setting_classes(theme, settings),
        "categories": store_category_nav(merchant.slug),  # visible ones; the nav is omitted while empty
        "preview": preview,
        "home_url": home_url or url_for("consumer.store", slug=merchant.slug),
        "canonical": external_url("consumer.store", slug=merchant.slug),
    }


def _render(theme: Theme, template: str, context: dict) -> str:
    app = current_app._get_current_object()
    app.update_template_context(context)
    return themes().environment(theme.name).get_template(template).render(context)


def render_store_page(
    merchant: Merchant,
    decoration: Decoration | None,
    *,
    preview: bool = False,
    home_url: str | None = None,
) -> str:
    """The whole store home. ``decoration`` None means nothing is published: the default theme's
    "being decorated" page. Live pages (a published version, not a preview) use the Redis cache."""
    theme = themes().resolve(decoration.theme if decoration else DEFAULT_THEME)
    settings = theme.effective_settings(decoration.settings if decoration else None)
    if decoration is None:
        slots = {name: Markup("") for name in theme.slot_names}
    elif decoration.version is not None and not preview:
        slots = cached_live_modules(theme, decoration, settings)
    else:
        slots = render_modules(theme, decoration, settings)
    context = {
        **_page_context(merchant, theme, settings, preview=preview, home_url=home_url),
        "slots": slots,
        "is_published": decoration is not None,
        "is_empty": decoration is None or not any(str(html).strip() for html in slots.values()),
    }
    return _render(theme, "store.html", context)


def render_store_listing(
    merchant: Merchant, decoration: Decoration | None, listing: dict, *, home_url: str | None = None
) -> str:
    """A store's product list (one of its categories, or its search) in the store's theme: the same
    header and navigation as its home, the products instead of the modules. ``listing`` holds
    ``title``, ``page`` (a ``browse.Page``), ``query``, ``args``, ``endpoint`` and ``endpoint_values``."""
    theme = themes().resolve(decoration.theme if decoration else DEFAULT_THEME)
    settings = theme.effective_settings(decoration.settings if decoration else None)
    context = {**_page_context(merchant, theme, settings, preview=False, home_url=home_url), **listing}
    return _render(theme, "listing.html", context)
