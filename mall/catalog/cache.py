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

**Fragments** (``cached_fragments``) are parts of a page shared by many pages, e.g. a product page's
store card and its category's related products: rendered HTML under the same catalog generation, so
they serve logged-in shoppers and first views of a page too, and a change retires them like pages.

Redis down: pages render as if nothing were cached.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from functools import wraps

import redis
from flask import Flask, Response, current_app, make_response, request, session
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import event
from werkzeug.wrappers import Request

from mall.catalog.publishing import public_product_changed
from mall.extensions import db, redis_store
from mall.i18n import get_locale, visitor_locale
from mall.tenancy.binding import cache_key
from mall.tenancy.session import MallSession
from mall.web.headers import security_headers

log = logging.getLogger(__name__)

GENERATION_KEY = "mall:catalog:generation"
PAGE_PREFIX = "mall:catalog:page"
FRAGMENT_PREFIX = "mall:catalog:fragment"
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


def _page_key_parts(host: str, full_path: str, locale: str) -> tuple[str, str]:
    """The page key is ``<prefix>:g<generation><suffix>``: generation first, so one bump retires all."""
    digest = hashlib.sha256(f"{host}\n{full_path}".encode()).hexdigest()[:32]
    return f"{PAGE_PREFIX}:g", f":{locale}:{digest}"


# One round trip for a lookup: read the generation, then the page stored under it.
_LOOKUP = """
local generation = redis.call('GET', KEYS[1]) or '0'
return {generation, redis.call('GET', ARGV[1] .. generation .. ARGV[2])}
"""


def _script(source: str):
    """The Lua script, sent by its SHA1 (``EVALSHA``; loaded again if Redis lost it)."""
    return redis_store.client.register_script(source)


def _lookup(client: redis.Redis, host: str, full_path: str, locale: str) -> tuple[str | None, bytes | None]:
    """(key of this page at the current generation, the cached page or None); (None, None) when
    Redis is unavailable."""
    prefix, suffix = _page_key_parts(host, full_path, locale)
    try:
        generation, hit = client.register_script(_LOOKUP)(keys=[GENERATION_KEY], args=[prefix, suffix])
    except redis.RedisError as exc:
        log.warning("page cache unavailable: %s", exc)
        return None, None
    return f"{prefix}{int(generation)}{suffix}", hit or None


# One round trip for any number of fragments: the generation, then each fragment stored under it.
_FRAGMENTS = """
local generation = redis.call('GET', KEYS[1]) or '0'
local out = {generation}
for i, name in ipairs(ARGV) do
  out[i + 1] = redis.call('GET', KEYS[2] .. generation .. ':' .. name)
end
return out
"""


def cached_fragments(renderers: dict[str, Callable[[], str]], ttl: int | None = None) -> dict[str, Markup]:
    """HTML fragments by name (``"store:42"``, ``"related:7"``): from Redis at the current catalog
    generation and locale when there, else rendered by their function and stored. Names must say
    everything the fragment depends on besides the catalog (which the generation covers)."""
    ttl = current_app.config["MALL_FRAGMENT_CACHE_SECONDS"] if ttl is None else ttl
    names = list(renderers)
    prefix = f"{FRAGMENT_PREFIX}:{get_locale()}:g"
    generation = hits = None
    if ttl > 0:
        try:
            generation, *hits = _script(_FRAGMENTS)(keys=[GENERATION_KEY, prefix], args=names)
        except redis.RedisError as exc:
            log.warning("fragment cache unavailable: %s", exc)
    out: dict[str, Markup] = {}
    missed: dict[str, str] = {}
    for index, name in enumerate(names):
        hit = hits[index] if hits is not None else None
        if hit is not None:
            out[name] = Markup(hit.decode())
        else:
            out[name] = Markup(renderers[name]())
            missed[name] = str(out[name])
    if missed and generation is not None:
        try:
            pipe = redis_store.client.pipeline(transaction=False)
            for name, html in missed.items():
                pipe.set(f"{prefix}{int(generation)}:{name}", html.encode(), ex=ttl)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("fragment cache unavailable: %s", exc)
    return out


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
        key = request.environ.get(MISSED_KEY)  # the middleware looked it up already
        if key is None:
            key, hit = _lookup(redis_store.client, request.host, request.full_path, str(get_locale()))
            if key is not None and hit is not None:
                return _cached_response(hit)
        response = make_response(view(*args, **kwargs))
        response.headers["X-Cache"] = "miss"
        if key is not None and _is_storable(response):
            try:
                redis_store.client.set(key, response.mimetype.encode() + b"\n" + response.get_data(), ex=ttl)
            except redis.RedisError as exc:
                log.warning("page cache unavailable: %s", exc)
        return response

    return cached_view


def _cached_response(hit: bytes) -> Response:
    mimetype, _sep, body = hit.partition(b"\n")
    response = Response(body, mimetype=mimetype.decode())
    response.headers["X-Cache"] = "hit"
    return response


MISSED_KEY = "mall.page_cache.missed"  # environ: the key the middleware found empty


class PageCacheMiddleware:
    """Serves cached pages to anonymous visitors in front of Flask: a visitor without a session or
    remember-me cookie (so not logged in, no flash, no CSRF token) asking for a page with only the
    listing parameters gets the stored page after one Redis round trip, without a request context.
    Anything else, and every miss, goes on to Flask, where ``anonymous_page_cache`` renders and
    stores the page (a miss passes its key on, so it is not looked up twice). The locale is chosen
    from Accept-Language as ``select_locale`` does for such a visitor."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.wsgi_app = app.wsgi_app
        self.cookies = (app.config["SESSION_COOKIE_NAME"], app.config.get("REMEMBER_COOKIE_NAME", "remember_token"))

    def __call__(self, environ: dict, start_response: Callable):
        if environ.get("REQUEST_METHOD") == "GET" and self.app.config["MALL_PAGE_CACHE_SECONDS"] > 0:
            request_ = Request(environ)
            if not any(name in request_.cookies for name in self.cookies) and all(
                key in CACHE_QUERY_KEYS for key in request_.args
            ):
                with self.app.app_context():
                    locale = visitor_locale(request_.accept_languages)
                    key, hit = _lookup(self.app.extensions["mall.redis"], request_.host, request_.full_path, locale)
                    if hit is not None:
                        response = _cached_response(hit)
                        security_headers(response, request_.is_secure)
                        return response(environ, start_response)
                    if key is not None:
                        environ[MISSED_KEY] = key
        return self.wsgi_app(environ, start_response)


def _is_storable(response: Response) -> bool:
    return (
        response.status_code == 200
        and response.mimetype in CACHEABLE_TYPES
        and not response.direct_passthrough
        and not session.modified  # e.g. a CSRF token or a flash: that page belongs to one visitor
        and not response.headers.getlist("Set-Cookie")
        and not current_user.is_authenticated
    )
