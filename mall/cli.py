"""The ``mall`` command: serve, worker, db (upgrade/revision/status), demo, tenant, user."""

from __future__ import annotations

import os
import subprocess
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from mall import create_app


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_default_commands=False, set_debug_flag=False)
def main() -> None:
    """Run and manage the mall."""


# --- db --------------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database migrations (platform chain, then every merchant schema)."""


def _upgrade_all(processes: int | None, platform_only: bool = False) -> bool:
    from tqdm import tqdm

    from mall.extensions import db as sqla
    from mall.tenancy.migrations import upgrade_fleet, upgrade_platform

    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    upgrade_platform(url)
    click.echo("platform schema: at head")
    if platform_only:
        return True
    sqla.engine.dispose()  # no pooled connection may cross the fork into the worker processes
    bar = tqdm(total=0, unit="schema", desc="merchant schemas", disable=not sys.stderr.isatty())
    report = upgrade_fleet(
        url,
        processes=processes or current_app.config["MALL_UPGRADE_PROCESSES"],
        lock_timeout=current_app.config["MALL_MIGRATION_LOCK_TIMEOUT"],
        progress=bar.update,
        on_total=lambda n: (setattr(bar, "total", n), bar.refresh()),
    )
    bar.close()
    click.echo(
        f"merchant schemas: {len(report.upgraded)} upgraded, {report.skipped} already at head, "
        f"{len(report.failed)} failed ({report.seconds:.2f}s, head {report.head})"
    )
    for schema, error in sorted(report.failed.items()):
        click.echo(f"  FAILED {schema}: {error}", err=True)
    return report.ok


@db.command("upgrade")
@click.option("--processes", type=int, default=None, help="Parallel worker processes for merchant schemas.")
@click.option("--platform-only", is_flag=True, help="Upgrade only the platform schema.")
@with_appcontext
def db_upgrade(processes: int | None, platform_only: bool) -> None:
    """Upgrade the platform schema, then every merchant schema not yet at head (resumable)."""
    if not _upgrade_all(processes, platform_only):
        raise SystemExit(1)


@db.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--tenant", is_flag=True, help="A revision of the merchant-schema chain.")
@click.option("--autogenerate", is_flag=True)
@with_appcontext
def db_revision(message: str, tenant: bool, autogenerate: bool) -> None:
    """Create a new migration revision (timestamped file name)."""
    from alembic import command

    from mall.tenancy.migrations import alembic_config

    cfg = alembic_config("tenant" if tenant else "platform", current_app.config["SQLALCHEMY_DATABASE_URI"])
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    command.revision(cfg, message=message, autogenerate=autogenerate)


@db.command("status")
@with_appcontext
def db_status() -> None:
    """Show the heads and how many merchant schemas stand at each revision."""
    from sqlalchemy import text

    from mall.extensions import db as sqla
    from mall.tenancy.migrations import platform_head, tenant_head

    click.echo(f"platform head {platform_head()}, tenant head {tenant_head()}")
    rows = sqla.session.execute(
        text(
            "SELECT state, revision, count(*) AS n, count(last_error) AS failed FROM public.tenant_schemas "
            "GROUP BY state, revision ORDER BY state, revision"
        )
    ).all()
    for row in rows:
        click.echo(f"  {row.state:9} {row.revision or '-':40} {row.n:6} schemas ({row.failed} with errors)")


# --- running ---------------------------------------------------------------------------------------


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--no-cron", is_flag=True, help="Do not run the periodic-job scheduler.")
@with_appcontext
def worker(burst: bool, no_cron: bool) -> None:
    """Run an RQ worker (and the cron scheduler for periodic jobs)."""
    from mall.jobs.worker import run_worker

    run_worker(current_app._get_current_object(), burst=burst, with_cron=not no_cron)


@main.command(with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo/--no-demo", default=True, show_default=True, help="Load demo data (idempotent).")
def serve(host: str, port: int, demo: bool) -> None:
    """Local server: upgrade the database, load demo data, start a worker, serve (not for production)."""
    os.environ.setdefault("MALL_DEBUG", "1")  # local use: http cookies, a generated instance secret
    app = create_app()
    with app.app_context():
        _serve(app, host, port, demo)


def _serve(app, host: str, port: int, demo: bool) -> None:
    if not _upgrade_all(None):
        raise SystemExit(1)
    if demo:
        from mall.demo import load_demo

        logins = load_demo()
        click.echo("\nDemo logins (password for all: {}):".format(logins["password"]))
        for area, (username, path) in logins["accounts"].items():
            click.echo(f"  {area:9} {username:10} http://{host}:{port}{path}")
    worker_process = None
    if app.config["MALL_EMBEDDED_WORKER"]:
        env = dict(
            os.environ,
            DATABASE_URL=app.config["DATABASE_URL"],
            REDIS_URL=app.config["REDIS_URL"],
            STORAGE_URL=app.config["STORAGE_URL"],
            SECRET_KEY=app.config["SECRET_KEY"],
        )
        worker_process = subprocess.Popen([sys.executable, "-m", "mall.cli", "worker"], env=env)
        click.echo(f"  worker   pid {worker_process.pid}")
    click.echo(f"\nThe mall is running at http://{host}:{port}/  (Ctrl+C to stop)\n")
    try:
        from werkzeug.serving import run_simple

        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        if worker_process is not None:
            worker_process.terminate()
            worker_process.wait(10)


@main.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the demo data (idempotent; development only: the demo accounts share a known password)."""
    from mall.demo import load_demo

    if not (current_app.debug or current_app.testing):
        raise click.ClickException("demo accounts share a published password: use MALL_DEBUG=1, never production")
    logins = load_demo()
    for area, (username, path) in logins["accounts"].items():
        click.echo(f"{area:9} {username:10} {logins['password']}  {path}")


# --- tenants and users -----------------------------------------------------------------------------


@main.group()
def catalog() -> None:
    """The catalog: sample data, search index."""


@catalog.command("generate")
@click.option("--stores", type=int, default=20, show_default=True, help="How many stores to open.")
@click.option("--skus", type=int, default=2000, show_default=True, help="How many SKUs in all.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same data).")
@with_appcontext
def catalog_generate(stores: int, skus: int, seed: int) -> None:
    """Open stores full of approved products (for demos and benchmarks)."""
    from mall.catalog.generate import generate_catalog

    report = generate_catalog(stores=stores, skus=skus, seed=seed, progress=click.echo)
    click.echo(f"{report.stores} stores, {report.products} products, {report.skus} SKUs in {report.seconds:.1f}s")


@catalog.command("reindex")
@with_appcontext
def catalog_reindex() -> None:
    """Rewrite every public product (search text and vector) from its store, then the suggestion terms."""
    from mall.catalog.publishing import reindex_public_catalog

    click.echo(f"{reindex_public_catalog(progress=click.echo)} products reindexed")


@main.group()
def ledger() -> None:
    """The money ledger."""


@ledger.command("check")
@with_appcontext
def ledger_check() -> None:
    """Prove the ledger: every entry balances, every cached balance equals the sum of its lines."""
    from mall.ledger.services import check_ledger

    result = check_ledger()
    click.echo(f"{result.entries} entries, {result.lines} lines, {result.accounts} accounts")
    for entry_id, total, count in result.unbalanced:
        click.echo(f"entry {entry_id} does not balance: sum {total} cents over {count} lines")
    for code, cached, summed in result.wrong_balances:
        click.echo(f"account {code}: cached balance {cached} cents, its lines sum to {summed}")
    for entry_id in result.mixed_currency:
        click.echo(f"entry {entry_id} moves accounts of another currency")
    if not result.ok:
        raise SystemExit(1)
    click.echo("ledger OK: every entry balances and every balance equals the sum of its entries")


@main.group()
def tenant() -> None:
    """Merchant schemas: archive (export, optionally drop)."""


@tenant.command("archive")
@click.argument("merchant_id", type=int)
@click.option("--drop", is_flag=True, help="Drop the schema after the export is stored.")
@with_appcontext
def tenant_archive(merchant_id: int, drop: bool) -> None:
    """Export one merchant schema with pg_dump to private storage."""
    from mall.extensions import db as sqla
    from mall.merchants.models import Merchant
    from mall.storage import get_storage
    from mall.tenancy import archive_merchant_schema

    merchant = sqla.session.get(Merchant, merchant_id)
    if merchant is None:
        raise click.ClickException(f"no merchant {merchant_id}")
    if drop and merchant.status != "closed":
        raise click.ClickException("only a closed store's schema may be dropped: close the store first")
    key = archive_merchant_schema(merchant_id, get_storage(), drop=drop)
    sqla.session.commit()
    click.echo(f"archived to {key}" + (" and dropped" if drop else ""))


@main.command("create-operator")
@click.argument("username")
@click.option("--email", default=None)
@click.option("--role", default="sysadmin", show_default=True)
@click.password_option()
@with_appcontext
def create_operator(username: str, email: str | None, role: str, password: str) -> None:
    """Create (or promote) an operator account."""
    from mall.errors import DomainError
    from mall.extensions import db as sqla
    from mall.identity import services as accounts

    try:
        user = accounts.find_user(username) or accounts.register_user(
            username, password, email=email or f"{username}@operators.invalid"
        )
        accounts.grant_operator_role(user, role_code=role)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    sqla.session.commit()
    click.echo(f"{user.username} is now {role}")


if __name__ == "__main__":
    main()
