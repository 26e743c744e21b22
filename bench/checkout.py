#!/usr/bin/env python
"""Checkout benchmark: orders per second through the real checkout service, and a hot SKU.

Run from a clone with the package installed, against the machine's PostgreSQL and Redis::

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        python bench/checkout.py                 # 50 stores, 600 buyers, 8 processes
    python bench/checkout.py --stores 10 --buyers 100 --processes 4   # a quick run

Steps:

1. a fresh database ``mall_bench_checkout``: ``mall db upgrade``, ``mall catalog generate`` (stock
   raised so no distinct-SKU order runs out), buyers with an address;
2. **distinct SKUs**: ``--processes`` worker processes, each with its own app, place one order each
   for their buyers (one SKU of a random store per buyer, every buyer a different SKU) with
   ``place_order`` (cart re-read live, stock taken by conditional UPDATE, order index and store
   order lines written, one transaction): orders/s over the wall time, p50 / p99 of ``place_order``;
3. **hot SKU**: ``--hot-buyers`` buyers (1,000) want one unit each of one SKU with ``--hot-stock``
   (100) units, all processes at once: orders/s, p50 / p99, units sold, oversold units (must be 0),
   and the SKU's stock (must be 0, never negative);
4. the ceiling: ``pgbench`` running only the conditional UPDATE of one SKU's stock
   (``UPDATE … SET stock = stock - 1 WHERE id = … AND stock >= 1``) with the same number of clients.

Exit status 1 if a unit was oversold or stock went negative.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = "mall_bench_checkout"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _app():
    from mall import create_app

    return create_app()


def prepare(stores: int, buyers: int, hot_buyers: int, hot_stock: int) -> dict:
    """Catalog, buyers with addresses, the hot SKU; returns what the runs need."""
    from sqlalchemy import select, update

    from mall.catalog.generate import generate_catalog
    from mall.catalog.models import PublicProduct, Sku
    from mall.extensions import db
    from mall.identity.models import User
    from mall.identity.passwords import hash_password
    from mall.merchants.models import Merchant
    from mall.tenancy import tenant
    from mall.trading.models import Address

    app = _app()
    with app.app_context():
        report = generate_catalog(stores=stores, skus=stores * 40, seed=7, progress=log)
        log(f"{report.stores} stores, {report.products} products, {report.skus} SKUs")
        targets = []  # (product id, sku id) pairs, one per buyer
        merchant_ids = list(db.session.scalars(select(Merchant.id).where(Merchant.slug.like("gen7-%"))))
        for merchant_id in merchant_ids:
            with tenant(merchant_id):
                db.session.execute(update(Sku).values(stock=100_000))
                rows = db.session.execute(select(Sku.product_id, Sku.id).where(Sku.is_active.is_(True))).all()
            targets += [tuple(r) for r in rows]
        db.session.execute(update(PublicProduct).values(stock_total=100_000))
        random.Random(1).shuffle(targets)
        hot_product, hot_sku = targets.pop()
        hot_merchant = db.session.scalar(select(PublicProduct.merchant_id).where(PublicProduct.id == hot_product))
        with tenant(hot_merchant):
            db.session.execute(update(Sku).where(Sku.id == hot_sku).values(stock=hot_stock))
        names = []
        password = hash_password("bench-password-1")  # one hash for every buyer: Argon2 is slow on purpose
        for n in range(buyers + hot_buyers):
            user = User(
                username=f"benchbuyer{n:05d}", email=f"benchbuyer{n:05d}@bench.localhost", password_hash=password
            )
            db.session.add(user)
            db.session.flush()
            db.session.add(
                Address(
                    user_id=user.id,
                    recipient="Bench",
                    phone="13800138000",
                    province="Shanghai",
                    city="Shanghai",
                    detail="1 Bench Road",
                    is_default=True,
                )
            )
            names.append((user.id, user.username))
        db.session.commit()
    return {
        "distinct": [(names[i][0], *targets[i]) for i in range(buyers)],
        "hot": [(uid, hot_product, hot_sku) for uid, _name in names[buyers : buyers + hot_buyers]],
        "hot_sku": (hot_merchant, hot_sku),
    }


def _buy(jobs: list[tuple[int, int, int]], start_at: float) -> list[tuple[str, float]]:
    """In a worker process: for each (buyer, product, sku) put one unit in the cart and check out."""
    from mall.errors import DomainError
    from mall.extensions import db
    from mall.trading import cart as carts
    from mall.trading import checkout as checkouts

    app = _app()
    results = []
    with app.app_context():
        while time.time() < start_at:
            time.sleep(0.005)
        for user_id, product_id, sku_id in jobs:
            try:
                cart = carts.get_or_create_cart(user_id=user_id)
                carts.add_to_cart(cart, product_id, sku_id, 1)
                db.session.commit()
            except DomainError:
                db.session.rollback()
                results.append(("sold out", 0.0))
                continue
            started = time.perf_counter()
            try:
                checkouts.place_order(user_id, cart, idempotency_key=uuid.uuid4().hex)
                db.session.commit()
                results.append(("ok", time.perf_counter() - started))
            except DomainError:
                db.session.rollback()
                results.append(("sold out", time.perf_counter() - started))
    return results


def run(jobs: list, processes: int) -> dict:
    chunks = [jobs[i::processes] for i in range(processes)]
    start_at = time.time() + 3  # every process starts at once, after its app is up
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pending = [pool.apply_async(_buy, (chunk, start_at)) for chunk in chunks]
        outcomes = [r for p in pending for r in p.get()]
    wall = time.time() - start_at
    ok = [seconds for status, seconds in outcomes if status == "ok"]
    return {
        "orders": len(ok),
        "refused": len(outcomes) - len(ok),
        "orders_per_s": len(ok) / wall if wall > 0 else float("nan"),
        "p50_ms": percentile(ok, 50) * 1000,
        "p99_ms": percentile(ok, 99) * 1000,
        "wall_s": wall,
    }


def pgbench_ceiling(url: str, clients: int, seconds: int) -> float:
    """tps of the bare conditional UPDATE on one hot row (a scratch table)."""
    import psycopg

    from mall.embedded import admin_params

    params = admin_params(url)
    with psycopg.connect(**{**params, "dbname": BENCH_DB}, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_stock; CREATE TABLE bench_stock (id int PRIMARY KEY, stock bigint)")
        conn.execute("INSERT INTO bench_stock VALUES (1, 1000000000)")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write("UPDATE bench_stock SET stock = stock - 1 WHERE id = 1 AND stock >= 1;\n")
    env = {
        **os.environ,
        "PGHOST": params.get("host", "127.0.0.1"),
        "PGPORT": str(params.get("port", 5432)),
        "PGUSER": params.get("user", "postgres"),
    }
    out = subprocess.run(
        [
            "pgbench",
            "-n",
            "-f",
            script.name,
            "-c",
            str(clients),
            "-j",
            str(min(clients, 4)),
            "-T",
            str(seconds),
            BENCH_DB,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tps = next(line for line in out.splitlines() if line.startswith("tps"))
    return float(tps.split("=")[1].split()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--buyers", type=int, default=600)
    parser.add_argument("--hot-buyers", type=int, default=1000)
    parser.add_argument("--hot-stock", type=int, default=100)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("pgbench"):
        log("pgbench is not installed (Debian: postgresql-client)")
        return 2
    from mall.embedded import create_database

    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    url = create_database(server, BENCH_DB, replace=True)
    os.environ.update(
        DATABASE_URL=url,
        REDIS_URL=os.environ.get("REDIS_URL_BENCH", "redis://127.0.0.1:6379/12"),
        SECRET_KEY="bench-secret",
        MALL_EMBEDDED_WORKER="0",
        MALL_DEBUG="0",
    )
    subprocess.run([str(Path(sys.executable).parent / "mall"), "db", "upgrade"], check=True, cwd=ROOT)
    data = prepare(args.stores, args.buyers, args.hot_buyers, args.hot_stock)

    log(f"distinct SKUs: {args.buyers} buyers, {args.processes} processes")
    distinct = run(data["distinct"], args.processes)
    log(f"hot SKU: {args.hot_buyers} buyers for {args.hot_stock} units")
    hot = run(data["hot"], args.processes)
    ceiling = pgbench_ceiling(url, args.processes, args.pgbench_seconds)

    from sqlalchemy import select

    from mall.catalog.models import Sku
    from mall.extensions import db
    from mall.tenancy import tenant

    app = _app()
    with app.app_context():
        merchant_id, sku_id = data["hot_sku"]
        with tenant(merchant_id):
            left = db.session.scalar(select(Sku.stock).where(Sku.id == sku_id))
    oversold = max(0, hot["orders"] - args.hot_stock)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"distinct SKUs: {distinct['orders']} orders in {distinct['wall_s']:.1f}s = "
        f"{distinct['orders_per_s']:.1f} orders/s, place_order p50 {distinct['p50_ms']:.1f} ms, "
        f"p99 {distinct['p99_ms']:.1f} ms, refused {distinct['refused']}"
    )
    print(
        f"hot SKU: {hot['orders']} sold of {args.hot_stock}, {hot['refused']} refused, "
        f"{hot['orders_per_s']:.1f} orders/s, p50 {hot['p50_ms']:.1f} ms, p99 {hot['p99_ms']:.1f} ms, "
        f"oversold {oversold}, stock left {left}"
    )
    print(f"pgbench ceiling (conditional UPDATE of one row, {args.processes} clients): {ceiling:.0f} tps")
    return 1 if oversold or left is None or left < 0 else 0


if __name__ == "__main__":
    sys.exit(main())
