"""How a tenant statement finds its schema.

Tenant tables are declared in the placeholder schema ``tenant`` (which does not
exist in the database). The session carries the bound schema in
``session.info``; every ORM statement gets a ``schema_translate_map`` from it,
and every loaded tenant object gets that schema as its *identity token*. After a
switch of store, objects keep reading from their own schema (refreshes and lazy
loads are routed by the object's token) and writing them while another store is
bound is refused: objects of store A never touch store B.
"""

from __future__ import annotations

import re
from typing import Any

from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import Engine, event, inspect
from sqlalchemy.orm import ORMExecuteState

TENANT_SCHEMA = "tenant"
SESSION_KEY = "mall.tenant_schema"
READS_ONLY = "mall.reads_only"  # session.info: the request runs its reads outside a transaction


class TenantError(RuntimeError):
    """Base for tenancy violations (programming errors: they must never be silenced)."""


class TenantNotBound(TenantError):
    """A tenant table was touched with no merchant bound."""


class CrossTenantWrite(TenantError):
    """An object of one store was changed while another store is bound."""


def schema_for(merchant_id: int) -> str:
    return f"m_{int(merchant_id)}"


def translate_map(schema: str) -> dict[str, str]:
    return {TENANT_SCHEMA: schema}


def _is_tenant_table(table: Any) -> bool:
    return getattr(table, "schema", None) == TENANT_SCHEMA


# A table of the placeholder schema in the SQL sent: ``tenant.products`` (never part of a longer name).
_TENANT_REFERENCE = re.compile(r'(?<![\w."$])"?' + TENANT_SCHEMA + r'"?\.')


@event.listens_for(Engine, "before_cursor_execute")
def _refuse_unbound_tenant_sql(conn, cursor, statement: str, parameters, context, executemany) -> None:
    """Fail closed: a statement still naming the placeholder schema reached the database with no store
    bound (a bound statement names ``m_<id>`` instead). Checked on the SQL actually sent, so ORM and
    Core statements, subqueries included, are all covered, at the cost of a substring search."""
    if TENANT_SCHEMA in statement and _TENANT_REFERENCE.search(statement):
        raise TenantNotBound("tenant table queried with no merchant bound")


class MallSession(FlaskSession):
    """Flask-SQLAlchemy session that knows the bound tenant schema."""

    @property
    def tenant_schema(self) -> str | None:
        return self.info.get(SESSION_KEY)

    def get(self, entity, ident, **kw):  # type: ignore[override]
        # Look the object up under the bound store's identity token, so a
        # second get() of a tenant row hits the identity map.
        if "identity_token" not in kw and self.tenant_schema is not None:
            mapper = inspect(entity)
            if _is_tenant_table(getattr(mapper, "local_table", None)):
                kw["identity_token"] = self.tenant_schema
        return super().get(entity, ident, **kw)


def _object_schema(state) -> str | None:
    if state.key is not None:
        return state.key[2]
    return state.identity_token


@event.listens_for(MallSession, "do_orm_execute")
def _route_statement(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and state.session.info.get(READS_ONLY):
        raise RuntimeError("this request only reads: it runs outside a transaction")
    schema = None
    if state.is_select:
        if state.lazy_loaded_from is not None:
            schema = _object_schema(state.lazy_loaded_from)
        elif state.load_options._identity_token:
            schema = state.load_options._identity_token
    if schema is None:
        schema = state.session.info.get(SESSION_KEY)
    if schema is None:
        return  # a tenant table in it is refused when it is sent (``_refuse_unbound_tenant_sql``)
    if any(_is_tenant_table(mapper.local_table) for mapper in state.all_mappers):
        # Loaded tenant objects remember their store; platform objects keep no token,
        # so a user or merchant row is one object whether or not a store is bound.
        state.update_execution_options(schema_translate_map=translate_map(schema), identity_token=schema)
    else:
        state.update_execution_options(schema_translate_map=translate_map(schema))


@event.listens_for(MallSession, "before_flush")
def _check_flush(session, flush_context, instances) -> None:
    if session.info.get(READS_ONLY):
        raise RuntimeError("this request only reads: it runs outside a transaction")
    schema = session.info.get(SESSION_KEY)
    for obj in session.new:
        st = inspect(obj)
        if not _is_tenant_table(st.mapper.local_table):
            continue
        if schema is None:
            raise TenantNotBound(f"cannot insert {type(obj).__name__}: no merchant bound")
        if st.identity_token is None:
            st.identity_token = schema
        elif st.identity_token != schema:
            raise CrossTenantWrite(f"{type(obj).__name__} belongs to {st.identity_token}, bound {schema}")
    for obj in list(session.dirty) + list(session.deleted):
        st = inspect(obj)
        if not _is_tenant_table(st.mapper.local_table):
            continue
        owner = _object_schema(st)
        if owner != schema:
            raise CrossTenantWrite(f"{type(obj).__name__} of {owner} changed while {schema or 'no store'} is bound")


@event.listens_for(MallSession, "after_begin")
def _bind_new_connection(session, transaction, connection) -> None:
    schema = session.info.get(SESSION_KEY)
    if schema is not None:
        connection.execution_options(schema_translate_map=translate_map(schema))


def bind_schema(session: MallSession, schema: str | None, *, flush: bool = True) -> str | None:
    """Bind ``schema`` on ``session`` (flushing first); return the previously bound one.

    ``flush=False`` is for unwinding after an error: the binding is restored and nothing
    pending is written (the caller's rollback discards it).
    """
    previous = session.info.get(SESSION_KEY)
    if previous == schema:
        return previous
    if flush and (session.new or session.dirty or session.deleted):
        session.flush()
    if schema is None:
        session.info.pop(SESSION_KEY, None)
    else:
        session.info[SESSION_KEY] = schema
    transaction = session.get_transaction()
    if transaction is not None and transaction.is_active:
        connection = session.connection()
        connection.execution_options(schema_translate_map=translate_map(schema) if schema else None)
    return previous
