#!/usr/bin/env python
"""Tenancy benchmark: provisioning, fleet upgrades and binding overhead.

Run from a clone with the package installed (``pip install -e .``)::

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/tenancy.py
    python bench/tenancy.py --schemas 200 --keep

It creates a dedicated database ``mall_bench`` on the server of DATABASE_URL
(unset: postgresql://postgres@127.0.0.1:5432/postgres if it answers, else an
embedded pgserver with its data under the temp folder, stopped at the end), brings
the platform schema to head with ``upgrade_platform`` and measures:

1. provisioning N merchant schemas, one transaction each (Merchant row +
   ``provision_merchant_schema`` + commit): p50 / p95 / max in ms;
2. ``upgrade_fleet`` over N schemas already at head (a no-op): seconds;
3. a real one-column tenant migration (``ALTER TABLE staff_roles ADD COLUMN``)
   over N schemas with ``upgrade_fleet(processes=2)``, verified with SQL;
4. the per-request cost of binding a store: ``bind_merchant`` + one trivial
   tenant query against the same query on a platform table, and the raw cost of
   ``bind_merchant`` switching between two stores.

The database is dropped at the end unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import make_url, select, text

from mall.embedded import admin_params, create_database, drop_database

BENCH_DB = "mall_bench"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"

TARGETS = {
    "provision_p50_ms": 100.0,
    "noop_fleet_s": 2.0,
    "migration_fleet_s": 30.0,
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- database server ------------------------------------------------------------------------------


EMBEDDED_DIR = Path(tempfile.gettempdir()) / "mall-bench-pgserver"


def server_url() -> tuple[str, bool]:
    """The server's URL, and whether it is the embedded pgserver started for this run.

    DATABASE_URL if set; otherwise the default local server if it answers; otherwise pgserver.
    """
    from mall.embedded import sqlalchemy_url, start_postgres

    url = os.environ.get("DATABASE_URL")
    if url:
        return sqlalchemy_url(url), False
    try:
        psycopg.connect(**admin_params(DEFAULT_SERVER), connect_timeout=3).close()
        log(f"DATABASE_URL is unset: using {DEFAULT_SERVER}")
        return sqlalchemy_url(DEFAULT_SERVER), False
    except psycopg.OperationalError:
        pass
    log(f"DATABASE_URL is unset and {DEFAULT_SERVER} does not answer: embedded pgserver in {EMBEDDED_DIR}")
    return start_postgres(str(EMBEDDED_DIR), dbname="postgres"), True


def stop_embedded() -> None:
    """Stop the embedded server (its data folder stays, so the next run skips initdb)."""
    import subprocess

    from pgserver._commands import pg_ctl

    # As root, pgserver runs PostgreSQL as the system user "pgserver" (pg_ctl refuses root).
    user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=EMBEDDED_DIR / "pgdata", user=user)
        log("stopped the embedded pgserver")
    except subprocess.CalledProcessError as exc:
        log(f"could not stop the embedded pgserver: {exc}")


def recreate_database(server: str, name: str) -> str:
    return create_database(server, name, replace=True)


def server_settings(server: str) -> dict:
    with psycopg.connect(**admin_params(server), autocommit=True) as conn:
        return {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("server_version", "autovacuum", "synchronous_commit")
        }


def analyze_catalogs(url: str) -> None:
    """What autovacuum would have done by now on a server where it runs (it is off on some)."""
    with psycopg.connect(**{**admin_params(url), "dbname": make_url(url).database}, autocommit=True) as conn:
        conn.execute("ANALYZE pg_catalog.pg_class, pg_catalog.pg_namespace")


# --- 1. provisioning ------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def bench_provisioning(n: int) -> dict:
    from mall.extensions import db
    from mall.merchants.models import Merchant
    from mall.tenancy import provision_merchant_schema

    times_ms: list[float] = []
    ids: list[int] = []
    started = time.perf_counter()
    for i in range(1, n + 1):
        t0 = time.perf_counter()
        merchant = Merchant(name=f"Bench store {i}", slug=f"bench-{i}", subdomain=f"bench-{i}", status="active")
        db.session.add(merchant)
        db.session.flush()
        provision_merchant_schema(merchant.id)
        db.session.commit()
        times_ms.append((time.perf_counter() - t0) * 1000)
        ids.append(merchant.id)
        if i % 250 == 0 or i == n:
            log(f"  provisioned {i}/{n}")
    total = time.perf_counter() - started
    db.session.remove()
    return {
        "ids": ids,
        "total_s": total,
        "p50_ms": statistics.median(times_ms),
        "p95_ms": percentile(times_ms, 0.95),
        "max_ms": max(times_ms),
        "first_ms": times_ms[0],
    }


# --- 2./3. fleet upgrades -------------------------------------------------------------------------


REVISION_TEMPLATE = '''\
"""bench: a nullable text column on staff_roles

Revision ID: {revision}
Revises: {down_revision}
"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("staff_roles", sa.Column("bench_note", sa.Text()))


def downgrade() -> None:
    op.drop_column("staff_roles", "bench_note")
'''


def bench_noop_fleet(url: str, n: int) -> dict:
    from mall.tenancy.migrations import upgrade_fleet

    t0 = time.perf_counter()
    report = upgrade_fleet(url)
    wall = time.perf_counter() - t0
    return {
        "seconds": wall,
        "skipped": report.skipped,
        "upgraded": len(report.upgraded),
        "failed": len(report.failed),
        "ok": report.ok and report.skipped == n and not report.upgraded,
    }


def bench_migration_fleet(url: str, n: int, processes: int, analyze: bool = False) -> dict:
    from mall.extensions import db
    from mall.tenancy.migrations import MIGRATIONS_DIR, set_chain_dir, tenant_head, upgrade_fleet

    tmp = Path(tempfile.mkdtemp(prefix="mall-bench-tenant-"))
    chain = tmp / "tenant"
    shutil.copytree(MIGRATIONS_DIR / "tenant", chain, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    old_head = tenant_head()
    new_head = "bench" + uuid.uuid4().hex[:12]
    (chain / "versions" / f"29991231_{new_head}_bench_note.py").write_text(
        REVISION_TEMPLATE.format(revision=new_head, down_revision=old_head)
    )
    try:
        set_chain_dir("tenant", chain)  # before the fork: the workers inherit it
        assert tenant_head() == new_head, (tenant_head(), new_head)
        db.engine.dispose()  # no pooled connection may cross the fork into the workers
        if analyze:
            analyze_catalogs(url)
        t0 = time.perf_counter()
        report = upgrade_fleet(url, processes=processes)
        wall = time.perf_counter() - t0
    finally:
        set_chain_dir("tenant", None)
        shutil.rmtree(tmp, ignore_errors=True)

    with db.engine.connect() as conn:
        schemas = conn.scalar(text("SELECT count(*) FROM information_schema.schemata WHERE schema_name ~ '^m_[0-9]+$'"))
        with_column = conn.scalar(
            text(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema ~ '^m_[0-9]+$' "
                "AND table_name = 'staff_roles' AND column_name = 'bench_note'"
            )
        )
        stamped = conn.scalar(text("SELECT count(*) FROM public.tenant_schemas WHERE revision = :r"), {"r": new_head})
        # Every schema's own alembic_version must say the new head too.
        versions = conn.scalar(
            text("SELECT count(*) FROM pg_tables WHERE schemaname ~ '^m_[0-9]+$' AND tablename = 'alembic_version'")
        )
        at_head = 0
        if versions:
            union = " UNION ALL ".join(
                f'SELECT version_num FROM "{s}".alembic_version'
                for s in conn.scalars(
                    text(
                        "SELECT schemaname FROM pg_tables WHERE schemaname ~ '^m_[0-9]+$' "
                        "AND tablename = 'alembic_version'"
                    )
                )
            )
            at_head = conn.scalar(text(f"SELECT count(*) FROM ({union}) v WHERE version_num = :r"), {"r": new_head})
    verified = schemas == n and with_column == n and stamped == n and at_head == n
    return {
        "seconds": wall,
        "processes": processes,
        "upgraded": len(report.upgraded),
        "failed": len(report.failed),
        "failures": dict(list(report.failed.items())[:5]),
        "schemas": schemas,
        "with_column": with_column,
        "registry_at_head": stamped,
        "alembic_version_at_head": at_head,
        "verified": verified,
        "old_head": old_head,
        "new_head": new_head,
    }


# --- 4. binding overhead --------------------------------------------------------------------------


def bench_binding(ids: list[int], iterations: int, rounds: int) -> dict:
    from mall.extensions import db
    from mall.merchants.models import Merchant, StaffRole
    from mall.tenancy import bind_merchant

    a, b = ids[0], ids[-1]
    # The same trivial statement on both sides: a primary-key lookup that finds nothing.
    tenant_query = select(StaffRole.id).where(StaffRole.id == 0)
    platform_query = select(Merchant.id).where(Merchant.id == 0)

    def interleaved(fns: dict, n: int) -> dict:
        """µs per call of each fn: medians over rounds interleaved so drift hits every side alike.

        ``wall`` is elapsed time; ``cpu`` is this process's CPU time, which leaves out the server
        and the other processes of a shared machine. With two fns, ``*_diff`` is the median of
        the per-round differences (second - first): paired rounds keep the noise out of it.
        """
        for fn in fns.values():  # warm-up: compiled cache, pool, prepared statements
            for _ in range(max(50, n // 10)):
                fn()
        wall: dict[str, list[float]] = {k: [] for k in fns}
        cpu: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(rounds):
            for key, fn in fns.items():
                c0, t0 = time.process_time_ns(), time.perf_counter_ns()
                for _ in range(n):
                    fn()
                t1, c1 = time.perf_counter_ns(), time.process_time_ns()
                wall[key].append((t1 - t0) / n / 1000)
                cpu[key].append((c1 - c0) / n / 1000)
        result = {}
        for key in fns:
            result[key] = statistics.median(wall[key])
            result[key + "_cpu"] = statistics.median(cpu[key])
        if len(fns) == 2:
            k1, k2 = fns
            result["wall_diff"] = statistics.median(b - a for a, b in zip(wall[k1], wall[k2], strict=True))
            result["cpu_diff"] = statistics.median(b - a for a, b in zip(cpu[k1], cpu[k2], strict=True))
        return result

    # A request: (bind_merchant,) one query, then the session is removed and its connection goes
    # back to the pool, as at the end of a Flask request.
    def platform_request():
        db.session.scalar(platform_query)
        db.session.remove()

    def tenant_request():
        bind_merchant(a)
        db.session.scalar(tenant_query)
        db.session.remove()

    db.session.remove()
    per_request = interleaved({"platform": platform_request, "tenant": tenant_request}, iterations)

    # Inside one open transaction (no pool round trip): what the query itself costs each way.
    db.session.remove()
    session = db.session()
    session.scalar(select(text("1")))
    assert session.in_transaction()

    def platform_unbound():
        bind_merchant(None)
        session.scalar(platform_query)

    def platform_bound():
        bind_merchant(a)
        session.scalar(platform_query)

    def tenant_bound():
        bind_merchant(a)
        session.scalar(tenant_query)

    in_tx = interleaved(
        {
            "platform_unbound": platform_unbound,
            "platform_bound": platform_bound,
            "tenant_bound": tenant_bound,
        },
        iterations,
    )

    # Raw bind_merchant switching between two stores (each call is one switch).
    def switch():
        bind_merchant(a)
        bind_merchant(b)

    switch_in_tx = interleaved({"s": switch}, iterations * 10)["s"] / 2
    db.session.remove()
    switch_no_tx = interleaved({"s": switch}, iterations * 10)["s"] / 2
    db.session.remove()

    return {
        "platform_request_us": per_request["platform"],
        "tenant_request_us": per_request["tenant"],
        "platform_request_cpu_us": per_request["platform_cpu"],
        "tenant_request_cpu_us": per_request["tenant_cpu"],
        "binding_overhead_us": per_request["wall_diff"],
        "binding_overhead_cpu_us": per_request["cpu_diff"],
        "tx_platform_unbound_us": in_tx["platform_unbound"],
        "tx_platform_bound_us": in_tx["platform_bound"],
        "tx_tenant_bound_us": in_tx["tenant_bound"],
        "tx_platform_unbound_cpu_us": in_tx["platform_unbound_cpu"],
        "tx_platform_bound_cpu_us": in_tx["platform_bound_cpu"],
        "tx_tenant_bound_cpu_us": in_tx["tenant_bound_cpu"],
        "switch_no_tx_us": switch_no_tx,
        "switch_in_tx_us": switch_in_tx,
        "iterations": iterations,
        "rounds": rounds,
    }


# --- main -----------------------------------------------------------------------------------------


def machine() -> dict:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "mem": mem, "python": platform.python_version()}


def verdict(value: float, target: float) -> str:
    return "OK" if value < target else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schemas", type=int, default=1000, help="merchant schemas to provision (default 1000)")
    parser.add_argument("--processes", type=int, default=2, help="worker processes of the migration run")
    parser.add_argument("--iterations", type=int, default=500, help="calls per timing round (binding)")
    parser.add_argument("--rounds", type=int, default=21, help="timing rounds (binding); the median is kept")
    parser.add_argument(
        "--analyze-catalogs",
        action="store_true",
        help="ANALYZE pg_class and pg_namespace before the migration run (as autovacuum would)",
    )
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database afterwards")
    args = parser.parse_args(argv)
    if args.schemas < 2:
        parser.error("--schemas must be at least 2")

    server, embedded = server_url()
    settings = server_settings(server)
    pg_version = settings["server_version"]
    load_before = os.getloadavg()
    url = recreate_database(server, BENCH_DB)
    log(f"database {BENCH_DB} created on PostgreSQL {pg_version}")
    scratch = tempfile.mkdtemp(prefix="mall-bench-")
    # A scratch instance folder: no instance/mall.cfg of this clone leaks into the figures.
    os.environ["MALL_INSTANCE_PATH"] = os.path.join(scratch, "instance")
    media = os.path.join(scratch, "media")
    app = None
    try:
        from mall import create_app
        from mall.tenancy.migrations import upgrade_platform

        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "bench-secret",
                "DATABASE_URL": url,
                "REDIS_URL": os.environ.get("REDIS_URL", DEFAULT_REDIS),
                "STORAGE_URL": f"file://{media}",
                "MAIL_URL": None,
                "MALL_EMBEDDED_WORKER": False,
            }
        )
        sa_url = app.config["SQLALCHEMY_DATABASE_URI"]
        upgrade_platform(sa_url)

        with app.app_context():
            log(f"1. provisioning {args.schemas} merchant schemas")
            prov = bench_provisioning(args.schemas)
            from mall.extensions import db

            db.engine.dispose()
            log("2. upgrade_fleet, every schema at head")
            noop = bench_noop_fleet(sa_url, args.schemas)
            log(f"3. one-column tenant migration over {args.schemas} schemas, {args.processes} processes")
            mig = bench_migration_fleet(sa_url, args.schemas, args.processes, args.analyze_catalogs)
            log("4. binding overhead")
            bind = bench_binding(prov["ids"], args.iterations, args.rounds)
            db.engine.dispose()
    finally:
        if app is not None:
            from mall.extensions import db

            for engines in list(getattr(db, "_app_engines", {}).values()):
                for engine in engines.values():
                    engine.dispose()
        shutil.rmtree(scratch, ignore_errors=True)
        if args.keep:
            log(f"kept database {BENCH_DB}: {url}")
        else:
            drop_database(server, BENCH_DB)
            log(f"dropped database {BENCH_DB}")
            if embedded:
                stop_embedded()

    m = machine()
    n = args.schemas
    rows = [
        (
            "1. provision one schema, p50",
            f"{prov['p50_ms']:.1f} ms",
            "< 100 ms",
            verdict(prov["p50_ms"], 100),
        ),
        ("   provision, p95", f"{prov['p95_ms']:.1f} ms", "", ""),
        ("   provision, max", f"{prov['max_ms']:.1f} ms", "", ""),
        (f"   provision, all {n}", f"{prov['total_s']:.1f} s", "", ""),
        (
            f"2. upgrade_fleet no-op ({noop['skipped']} at head)",
            f"{noop['seconds']:.3f} s",
            "< 2 s",
            verdict(noop["seconds"], 2) if noop["ok"] else "WRONG",
        ),
        (
            f"3. add_column over {n} ({mig['processes']} procs)",
            f"{mig['seconds']:.1f} s",
            "< 30 s",
            verdict(mig["seconds"], 30) if mig["verified"] else "WRONG",
        ),
        (
            "   upgraded / failed",
            f"{mig['upgraded']} / {mig['failed']}",
            f"{n} / 0",
            "OK" if mig["upgraded"] == n and not mig["failed"] else "WRONG",
        ),
        (
            "   verified: column / registry / alembic_version",
            f"{mig['with_column']} / {mig['registry_at_head']} / {mig['alembic_version_at_head']}",
            f"{n} each",
            "OK" if mig["verified"] else "WRONG",
        ),
        (
            "4. request: platform query",
            f"{bind['platform_request_us']:.0f} µs",
            "",
            f"cpu {bind['platform_request_cpu_us']:.0f} µs",
        ),
        (
            "   request: bind_merchant + tenant query",
            f"{bind['tenant_request_us']:.0f} µs",
            "",
            f"cpu {bind['tenant_request_cpu_us']:.0f} µs",
        ),
        (
            "   binding overhead per request",
            f"{bind['binding_overhead_us']:+.0f} µs",
            "",
            f"cpu {bind['binding_overhead_cpu_us']:+.0f} µs",
        ),
        (
            "   in a tx: platform query, no store bound",
            f"{bind['tx_platform_unbound_us']:.0f} µs",
            "",
            f"cpu {bind['tx_platform_unbound_cpu_us']:.0f} µs",
        ),
        (
            "   in a tx: platform query, store bound",
            f"{bind['tx_platform_bound_us']:.0f} µs",
            "",
            f"cpu {bind['tx_platform_bound_cpu_us']:.0f} µs",
        ),
        (
            "   in a tx: tenant query, store bound",
            f"{bind['tx_tenant_bound_us']:.0f} µs",
            "",
            f"cpu {bind['tx_tenant_bound_cpu_us']:.0f} µs",
        ),
        ("   bind_merchant switch a<->b, no transaction", f"{bind['switch_no_tx_us']:.1f} µs", "", ""),
        ("   bind_merchant switch a<->b, open transaction", f"{bind['switch_in_tx_us']:.1f} µs", "", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(
        f"mall tenancy benchmark: {n} schemas, PostgreSQL {pg_version}, {m['cpus']} CPUs ({m['cpu']}), "
        f"{m['mem']} RAM, Python {m['python']}"
    )
    load_after = os.getloadavg()
    print(
        f"autovacuum {settings['autovacuum']}, synchronous_commit {settings['synchronous_commit']}, "
        f"catalogs analyzed before step 3: {'yes' if args.analyze_catalogs else 'no'}; "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    print(f"tenant head {mig['old_head']}; bench revision {mig['new_head']}")
    print()
    print(f"{'measure':{width}}  {'result':>14}  {'target':>9}  verdict / note")
    print(f"{'-' * width}  {'-' * 14}  {'-' * 9}  --------------")
    for label, value, target, ok in rows:
        print(f"{label:{width}}  {value:>14}  {target:>9}  {ok}")
    print()
    print(
        textwrap.fill(
            f"Binding figures: median of {bind['rounds']} interleaved rounds x {bind['iterations']} calls. "
            "The query is a primary-key lookup that finds nothing. A 'request' ends with "
            "db.session.remove() (connection back to the pool, pool_pre_ping on the next checkout), as "
            "a Flask request does; 'in a tx' runs in one open transaction, without that round trip. "
            "A platform query with no store bound also pays the fail-closed scan for tenant tables. "
            "'cpu' is this process's CPU time per call (steadier than wall time on a busy machine); "
            "overheads are medians of paired per-round differences.",
            width=100,
        )
    )
    if mig["failures"]:
        print("\nfirst failures:")
        for schema, error in mig["failures"].items():
            print(f"  {schema}: {error}")
    good = (
        prov["p50_ms"] < TARGETS["provision_p50_ms"]
        and noop["ok"]
        and noop["seconds"] < TARGETS["noop_fleet_s"]
        and mig["verified"]
        and not mig["failed"]
        and mig["seconds"] < TARGETS["migration_fleet_s"]
    )
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
