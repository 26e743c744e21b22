"""Binding a merchant to the current unit of work.

Only this package knows how a schema gets bound. Requests bind through
``bind_merchant`` (merchant back office after a membership check, or store
pages by slug); operator tools and cross-store services use ``with
tenant(merchant_id)``; jobs carry the merchant id and the worker binds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mall.extensions import db
from mall.tenancy.session import SESSION_KEY, TenantNotBound, bind_schema, schema_for


def current_schema() -> str | None:
    return db.session().info.get(SESSION_KEY)


def current_merchant_id() -> int | None:
    schema = current_schema()
    return int(schema[2:]) if schema else None


def require_merchant_id() -> int:
    merchant_id = current_merchant_id()
    if merchant_id is None:
        raise TenantNotBound("no merchant bound")
    return merchant_id


def bind_merchant(merchant_id: int | None) -> None:
    """Bind ``merchant_id`` for the rest of this request or job (``None`` unbinds)."""
    bind_schema(db.session(), schema_for(merchant_id) if merchant_id is not None else None)


@contextmanager
def tenant(merchant_id: int) -> Iterator[int]:
    """Run a block against one store's schema, restoring the previous binding after.

    Pending changes are flushed at each switch, so one transaction can span
    several stores (checkout) while each object stays with its own store.
    """
    session = db.session()
    previous = bind_schema(session, schema_for(merchant_id))
    try:
        yield merchant_id
    except BaseException:
        # Unwinding: restore the binding without flushing half-done work (or hiding the real error).
        bind_schema(session, previous, flush=False)
        raise
    bind_schema(session, previous)


def cache_key(*parts: object, merchant_id: int | None = None) -> str:
    """A Redis key for store data: always carries the merchant it belongs to."""
    merchant_id = require_merchant_id() if merchant_id is None else merchant_id
    return ":".join(["mall", f"m{int(merchant_id)}", *(str(p) for p in parts)])
