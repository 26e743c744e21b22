"""Whole-page cache of the mall's catalog pages for anonymous visitors, in Redis.

Only anonymous GETs are served from or written to the cache; a page for a logged-in shopper, a page
showing a flash message, a page that touched the session (a CSRF token, a flash) and any non-200
answer are never stored. Keys carry a **catalog generation**: a counter in Redis bumped whenever
anything the pages show changes (every ``public_product_changed`` signal, and
``invalidate_catalog_pages()`` from taxonomy and home page edits). Old entries are then never read
again and expire on their own. The counter is bumped at once and again after the transaction
commits, so a page rendered between the change and its commit cannot stay cached with old data.

Each store also has its own counter (``store_catalog_generation``) for the store home's module
cache, so a product change re-renders only its own store's product grids.

Redis down: pages render as if nothing were cached.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from functools import wraps

import redis
from flask import Response, current_app, make_response, request, session
from flask_login import current_user
from sqlalchemy import event

from mall.catalog.publishing import public_product_changed
from mall.extensions import db, redis_store
from mall.i18n import get_locale
from mall.tenancy.binding import cache_key
from mall.tenancy.session import MallSession

log = logging.getLogger(__name__)

GENERATION_KEY = "mall:catalog:generation"
PAGE_PREFIX = "mall:catalog:page"
_DIRTY = "mall.catalog.pages_dirty"  # session.info flag: bump again after commit
_DIRTY_STORES = "mall.catalog.stores_dirty"
CACHEABLE_TYPES = ("text/html", "application/xml", "text/plain")
CACHE_QUERY_KEYS = frozenset({"sort", "min", "max", "brand", "page", "category", "initial"})


def catalog_generation() -> int:
    try:
        value = redis_store.client.get(GENERATION_KEY)
    except redis.RedisError as exc:
        log.warning("page cache unavailable: %s", exc)
        return -1
    return int(value or 0)


def store_catalog_generation(merchant_id: int) -> int:
    """The store's own counter (its products changed): part of the store home's module cache key."""
    try:
        return int(redis_store.client.get(cache_key("catalog", "generation", merchant_id=merchant_id)) or 0)
    except redis.RedisError as exc:
        log.warning("page cache unavailable: %s", exc)
        return -1


def _bump(merchant_ids: set[int]) -> None:
    try:
        pipe = redis_store.client.pipeline(transaction=False)
        pipe.incr(GENERATION_KEY)
        for merchant_id in merchant_ids:
            pipe.incr(cache_key("catalog", "generation", merchant_id=merchant_id))
        pipe.execute()
    except redis.RedisError as exc:  # entries then expire by their TTL
        log.warning("page cache not invalidated: %s", exc)


def invalidate_catalog_pages(merchant_id: int | None = None) -> None:
    """Every cached catalog page (and, with ``merchant_id``, that store's product grids) is stale
    from now on, and again once the current transaction commits."""
    stores = {merchant_id} if merchant_id is not None else set()
    _bump(stores)
    session = db.session()
    if session.in_transaction():  # otherwise there is no commit to wait for
        session.info[_DIRTY] = True
        session.info.setdefault(_DIRTY_STORES, set()).update(stores)


def _on_product_changed(product_id, merchant_id: int | None = None, **_kw) -> None:
    invalidate_catalog_pages(merchant_id)


public_product_changed.connect(_on_product_changed)


@event.listens_for(MallSession, "after_commit")
def _bump_after_commit(session) -> None:
    if session.info.pop(_DIRTY, False):
        _bump(session.info.pop(_DIRTY_STORES, set()))


@event.listens_for(MallSession, "after_soft_rollback")
def _forget_after_rollback(session, previous_transaction) -> None:
    if not session.in_transaction():
        session.info.pop(_DIRTY, None)
        session.info.pop(_DIRTY_STORES, None)


def _page_key_parts() -> tuple[str, str]:
    """The page key is ``<prefix>:g<generation><suffix>``: generation first, so one bump retires all."""
    digest = hashlib.sha256(f"{request.host}\n{request.full_path}".encode()).hexdigest()[:32]
    return f"{PAGE_PREFIX}:g", f":{get_locale()}:{digest}"


# One round trip for a lookup: read the generation, then the page stored under it.
_LOOKUP = """
local generation = redis.call('GET', KEYS[1]) or '0'
return {generation, redis.call('GET', ARGV[1] .. generation .. ARGV[2])}
"""


def _lookup() -> tuple[str | None, bytes | None]:
    """(key of this page at the current generation, the cached page or None); (None, None) when
    Redis is unavailable."""
    prefix, suffix = _page_key_parts()
    try:
        generation, hit = redis_store.client.eval(_LOOKUP, 1, GENERATION_KEY, prefix, suffix)
    except redis.RedisError as exc:
        log.warning("page cache unavailable: %s", exc)
        return None, None
    return f"{prefix}{int(generation)}{suffix}", hit or None


def _is_cacheable_request() -> bool:
    """Anonymous GETs without a pending flash, whose query holds only the pages' own parameters (any
    other parameter, e.g. a tracking tag, would only multiply the entries: such requests skip the cache)."""
    return (
        request.method == "GET"
        and all(key in CACHE_QUERY_KEYS for key in request.args)
        and not current_user.is_authenticated
        and not session.get("_flashes")
    )


def anonymous_page_cache(view: Callable) -> Callable:
    """Serve the view's whole page from Redis for anonymous visitors (``X-Cache: hit|miss``)."""

    @wraps(view)
    def cached_view(*args, **kwargs):
        ttl = current_app.config["MALL_PAGE_CACHE_SECONDS"]
        if ttl <= 0 or not _is_cacheable_request():
            response = make_response(view(*args, **kwargs))
            response.headers["X-Cache"] = "bypass"
            return response
        key, hit = _lookup()
        if key is not None and hit is not None:
            mimetype, _sep, body = hit.partition(b"\n")
            response = Response(body, mimetype=mimetype.decode())
            response.headers["X-Cache"] = "hit"
            return response
        response = make_response(view(*args, **kwargs))
        response.headers["X-Cache"] = "miss"
        if key is not None and _is_storable(response):
            try:
                redis_store.client.set(key, response.mimetype.encode() + b"\n" + response.get_data(), ex=ttl)
            except redis.RedisError as exc:
                log.warning("page cache unavailable: %s", exc)
        return response

    return cached_view


def _is_storable(response: Response) -> bool:
    return (
        response.status_code == 200
        and response.mimetype in CACHEABLE_TYPES
        and not response.direct_passthrough
        and not session.modified  # e.g. a CSRF token or a flash: that page belongs to one visitor
        and not response.headers.getlist("Set-Cookie")
        and not current_user.is_authenticated
    )
