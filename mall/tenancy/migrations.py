"""Two Alembic chains (platform and tenant) and the fleet upgrade of every store schema.

``upgrade_fleet`` skips schemas already at head by reading the platform registry
(no connection to them), upgrades the rest in parallel worker processes, one
transaction per schema with an advisory lock and ``lock_timeout``, records each
success immediately (so an interrupted run resumes where it stopped), goes on
past failures and reports them at the end.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


# Benchmarks and tests may point the tenant chain at a copy with extra revisions.
_chain_dirs: dict[str, Path] = {"platform": MIGRATIONS_DIR / "platform", "tenant": MIGRATIONS_DIR / "tenant"}


def set_chain_dir(chain: str, path: str | Path | None) -> None:
    _chain_dirs[chain] = Path(path) if path else MIGRATIONS_DIR / chain
    _script.cache_clear()


def alembic_config(chain: str, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("script_location", str(_chain_dirs[chain]))
    cfg.set_main_option("version_locations", str(_chain_dirs[chain] / "versions"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@cache
def _script(chain: str) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(chain))


def tenant_head() -> str:
    head = _script("tenant").get_current_head()
    assert head is not None, "the tenant migration chain is empty"
    return head


def platform_head() -> str:
    head = _script("platform").get_current_head()
    assert head is not None
    return head


def upgrade_platform(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config("platform", url), revision)


def run_tenant_migrations(connection: Connection, schema: str, destination: str = "head") -> str | None:
    """Upgrade one schema on ``connection`` inside its open transaction; returns the new revision.

    Tenant revisions name no schema: ``search_path`` is set transaction-locally to
    the store's schema, so nothing stays on the pooled connection afterwards.
    """
    script = _script("tenant")
    connection.execute(text("SELECT set_config('search_path', :p, true)"), {"p": f'"{schema}"'})

    def _steps(rev, context):
        return script._upgrade_revs(destination, rev)

    env = EnvironmentContext(alembic_config("tenant"), script, fn=_steps, destination_rev=destination)
    with env:
        env.configure(connection=connection, version_table_schema=schema, transactional_ddl=True)
        env.run_migrations()
        return env.get_context().get_current_revision()


@dataclass
class UpgradeReport:
    head: str
    skipped: int = 0
    upgraded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


_worker_engine = None


def _init_worker(url: str) -> None:
    global _worker_engine
    # One connection per worker process, reused for every schema it migrates: every
    # per-schema setting (search_path, lock_timeout) is transaction-local.
    _worker_engine = create_engine(url, pool_size=1, max_overflow=0)


def upgrade_one_schema(engine, merchant_id: int, schema: str, lock_timeout: str) -> tuple[str, str | None]:
    """One transaction: lock, migrate, record the new revision. Returns (schema, error or None)."""
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('lock_timeout', :t, true)"), {"t": lock_timeout})
            conn.execute(text("SELECT set_config('statement_timeout', '5min', true)"))
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": "mall-migrate:" + schema})
            revision = run_tenant_migrations(conn, schema)
            conn.execute(
                text(
                    "UPDATE public.tenant_schemas SET revision = :r, upgraded_at = now(), last_error = NULL "
                    "WHERE merchant_id = :m"
                ),
                {"r": revision, "m": merchant_id},
            )
        return schema, None
    except Exception as exc:  # reported, recorded and the fleet goes on
        message = f"{type(exc).__name__}: {exc}".strip()[:2000]
        try:
            with engine.begin() as conn:
                conn.execute(
                    text("UPDATE public.tenant_schemas SET last_error = :e WHERE merchant_id = :m"),
                    {"e": message, "m": merchant_id},
                )
        except Exception:
            pass
        return schema, message


def _upgrade_task(args: tuple[int, str, str]) -> tuple[str, str | None]:
    merchant_id, schema, lock_timeout = args
    return upgrade_one_schema(_worker_engine, merchant_id, schema, lock_timeout)


def pending_schemas(engine, head: str) -> tuple[list[tuple[int, str]], int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT merchant_id, schema_name, revision IS NOT DISTINCT FROM :h AS current "
                "FROM public.tenant_schemas WHERE state = 'active' ORDER BY merchant_id"
            ),
            {"h": head},
        ).all()
    todo = [(r.merchant_id, r.schema_name) for r in rows if not r.current]
    return todo, len(rows) - len(todo)


def upgrade_fleet(
    url: str,
    *,
    processes: int | None = None,
    lock_timeout: str = "5s",
    progress: Callable[[int], object] | None = None,
    on_total: Callable[[int], object] | None = None,
) -> UpgradeReport:
    """Bring every active tenant schema to head. Never stops at a failed schema."""
    started = time.perf_counter()
    head = tenant_head()
    engine = create_engine(url, poolclass=NullPool)
    todo, skipped = pending_schemas(engine, head)
    report = UpgradeReport(head=head, skipped=skipped)
    if on_total:
        on_total(len(todo))
    tasks = [(mid, schema, lock_timeout) for mid, schema in todo]
    processes = max(1, min(processes or os.cpu_count() or 1, len(tasks) or 1))
    if processes == 1 or len(tasks) < 4:
        _init_worker(url)
        results = map(_upgrade_task, tasks)
        pool = None
    else:
        pool = multiprocessing.get_context("fork").Pool(processes, initializer=_init_worker, initargs=(url,))
        results = pool.imap_unordered(_upgrade_task, tasks, chunksize=4)
    try:
        for schema, error in results:
            if error:
                report.failed[schema] = error
            else:
                report.upgraded.append(schema)
            if progress:
                progress(1)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        elif _worker_engine is not None:
            _worker_engine.dispose()  # the in-process "worker" ran here: close its connection
    engine.dispose()
    report.seconds = time.perf_counter() - started
    return report
