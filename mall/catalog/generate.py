"""Sample catalog data: open stores full of approved, on-shelf products (demos and benchmarks).

``mall catalog generate --stores 1000 --skus 200000`` builds the benchmark data set. It goes
through the real building blocks — ``create_merchant`` (schema provisioning at head), the
catalog tables of each store, the initial stock movements, and the public catalog rows with
their jieba-segmented search text — but writes rows in bulk instead of one request per product.
The same seed gives the same data; stores that already exist (by slug) are skipped, so a run
can be resumed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import product as cartesian

from sqlalchemy import insert, select, text

from mall.catalog.models import Brand, Category, CategorySpec, Product, PublicProduct, Sku, StockMovement
from mall.catalog.text import index_text
from mall.extensions import db
from mall.merchants.models import Merchant
from mall.tenancy import tenant

ADJECTIVES = (
    "新款", "经典", "加厚", "轻薄", "简约", "复古", "时尚", "高端", "家用", "便携",
    "原装", "进口", "有机", "手工", "限量", "舒适", "大容量", "升级版", "春季", "冬季",
)  # fmt: skip
ENGLISH = ("Classic", "Pro", "Lite", "Max", "Air", "Plus", "Mini", "Select", "Premium", "Daily")
STORE_WORDS = ("旗舰店", "专营店", "官方店", "精品店", "生活馆", "优选", "工坊", "小铺")
DEFAULT_SPECS = (("颜色", ("黑色", "白色", "红色", "蓝色", "灰色")), ("尺码", ("S", "M", "L", "XL")))
BATCH_STORES = 25


@dataclass
class GenerateReport:
    stores: int = 0
    products: int = 0
    skus: int = 0
    seconds: float = 0.0


def _owner():
    """One owner for every generated store (staff of many stores use the store switcher)."""
    from mall.identity import services as accounts
    from mall.identity.models import User

    user = db.session.scalar(select(User).where(User.username == "catalog_owner"))
    if user is None:
        user = accounts.register_user(
            "catalog_owner", f"{random.getrandbits(64):x}Aa1", email="catalog_owner@example.invalid"
        )
        db.session.flush()
    return user


def _taxonomy() -> tuple[list[Category], list[Brand], dict[int, list[tuple[str, tuple[str, ...]]]]]:
    """Selectable leaf categories, enabled brands, and each leaf's spec axes (inherited templates)."""
    try:
        from mall.catalog.seed import seed_taxonomy
    except ImportError:  # pragma: no cover - the taxonomy seed ships with the catalog
        seed_taxonomy = None
    if seed_taxonomy is not None:
        seed_taxonomy()
        db.session.flush()
    categories = db.session.scalars(select(Category).where(Category.is_enabled.is_(True))).all()
    parents = {c.parent_id for c in categories if c.parent_id}
    leaves = [c for c in categories if c.id not in parents]
    if not leaves:
        root = Category(name="综合", slug="general", path="/")
        db.session.add(root)
        db.session.flush()
        root.path = f"/{root.id}/"
        leaves = [root]
    brands = db.session.scalars(select(Brand).where(Brand.is_enabled.is_(True)).order_by(Brand.id)).all()
    specs_by_category: dict[int, list[tuple[str, tuple[str, ...]]]] = {}
    all_specs = db.session.scalars(select(CategorySpec).order_by(CategorySpec.position, CategorySpec.id)).all()
    for leaf in leaves:
        chain = leaf.ancestor_ids
        axes: dict[str, tuple[str, ...]] = {}
        for spec in sorted((s for s in all_specs if s.category_id in chain), key=lambda s: chain.index(s.category_id)):
            if spec.values:
                axes[spec.name] = tuple(str(v) for v in spec.values)
        specs_by_category[leaf.id] = list(axes.items())[:2] or list(DEFAULT_SPECS)
    return leaves, list(brands), specs_by_category


def _ids(count: int) -> list[int]:
    """Ids from the tenant sequence, allocated in one round trip."""
    return list(
        db.session.scalars(text("SELECT nextval('public.tenant_row_id_seq') FROM generate_series(1, :n)"), {"n": count})
    )


def _store_catalog(
    rng: random.Random,
    merchant: Merchant,
    sku_quota: int,
    leaves: list[Category],
    brands: list[Brand],
    specs_by_category: dict[int, list[tuple[str, tuple[str, ...]]]],
    now: datetime,
) -> tuple[int, int]:
    """Products and SKUs of one store up to ``sku_quota`` SKUs; returns (products, skus)."""
    plans = []
    remaining = sku_quota
    store_leaves = rng.sample(leaves, k=min(len(leaves), rng.randint(1, 4)))
    while remaining > 0:
        leaf = rng.choice(store_leaves)
        axes = specs_by_category[leaf.id]
        chosen = [(name, rng.sample(values, k=rng.randint(1, min(3, len(values))))) for name, values in axes]
        combos = list(cartesian(*[[(name, v) for v in values] for name, values in chosen]))[:remaining]
        plans.append((leaf, chosen, combos))
        remaining -= len(combos)
    product_ids = _ids(len(plans))
    sku_ids = _ids(sum(len(combos) for _leaf, _chosen, combos in plans))
    movement_ids = _ids(len(sku_ids))
    product_rows, sku_rows, movement_rows, public_rows = [], [], [], []
    cursor = 0
    for product_id, (leaf, chosen, combos) in zip(product_ids, plans, strict=True):
        brand = rng.choice(brands) if brands and rng.random() < 0.8 else None
        title = " ".join(
            part
            for part in (
                brand.name if brand else None,
                rng.choice(ADJECTIVES) + rng.choice(ADJECTIVES) + leaf.name,
                rng.choice(ENGLISH) if rng.random() < 0.4 else None,
                f"{rng.randint(1, 999)}款",
            )
            if part
        )[:120]
        approved_at = now - timedelta(days=rng.uniform(0, 90))
        sales = int(rng.paretovariate(1.2) * 10) if rng.random() < 0.7 else 0
        base = rng.randint(990, 99900)
        prices, stocks = [], []
        for position, combo in enumerate(combos):
            price = base + rng.choice((0, 0, 500, 1000, 2000)) * position
            market = price + price * rng.choice((0, 10, 20, 35)) // 100 if rng.random() < 0.5 else None
            stock = rng.choice((0, 5, 20, 50, 100, 300)) if rng.random() > 0.05 else 0
            sku_id = sku_ids[cursor]
            spec_values = dict(combo)
            sku_rows.append(
                {
                    "id": sku_id,
                    "product_id": product_id,
                    "spec_values": spec_values,
                    "spec_key": "|".join(f"{name}:{value}" for name, value in combo),
                    "code": f"M{merchant.id}-{sku_id}",
                    "market_price_cents": market,
                    "price_cents": price,
                    "stock": stock,
                    "weight_grams": rng.randint(50, 5000),
                    "low_stock_threshold": 5,
                    "is_active": True,
                    "position": position,
                }
            )
            movement_rows.append(
                {
                    "id": movement_ids[cursor],
                    "sku_id": sku_id,
                    "delta": stock,
                    "stock_after": stock,
                    "reason": "initial",
                    "note": "generated",
                    "created_at": approved_at,
                }
            )
            prices.append((price, market))
            stocks.append(stock)
            cursor += 1
        specs = [{"name": name, "values": list(values)} for name, values in chosen]
        product_rows.append(
            {
                "id": product_id,
                "status": "approved",
                "title": title,
                "slug": f"p{product_id}",
                "category_id": leaf.id,
                "brand_id": brand.id if brand else None,
                "specs": specs,
                "attributes": {},
                "description_html": f"<p>{title}</p>",
                "on_shelf": True,
                "sales_count": sales,
                "approved_at": approved_at,
                "submitted_at": approved_at,
                "created_at": approved_at,
                "updated_at": approved_at,
            }
        )
        cheapest = min(prices, key=lambda pm: pm[0])
        public_rows.append(
            {
                "id": product_id,
                "merchant_id": merchant.id,
                "slug": f"p{product_id}",
                "title": title,
                "category_id": leaf.id,
                "category_path": leaf.path,
                "brand_id": brand.id if brand else None,
                "attributes": {},
                "price_min_cents": min(p for p, _m in prices),
                "price_max_cents": max(p for p, _m in prices),
                "market_price_cents": cheapest[1],
                "is_on_offer": any(m is not None and p < m for p, m in prices),
                "stock_total": sum(stocks),
                "sales_count": sales,
                "is_visible": True,
                "search_text": index_text(title, leaf.name, brand.name if brand else None, merchant.name),
                "published_at": approved_at,
                "updated_at": approved_at,
            }
        )
    with tenant(merchant.id):
        db.session.execute(insert(Product), product_rows)
        db.session.execute(insert(Sku), sku_rows)
        db.session.execute(insert(StockMovement), movement_rows)
    db.session.execute(insert(PublicProduct), public_rows)
    return len(product_rows), len(sku_rows)


def stock_store(merchant: Merchant, skus: int, seed: int = 1) -> tuple[int, int]:
    """Fill an existing store that has no products yet with ``skus`` SKUs of approved products
    (the demo stores); returns (products, skus) written, (0, 0) when it already has products."""
    with tenant(merchant.id):
        if db.session.scalar(select(Product.id).limit(1)) is not None:
            return 0, 0
    leaves, brands, specs_by_category = _taxonomy()
    rng = random.Random(f"{seed}:{merchant.slug}")
    return _store_catalog(rng, merchant, skus, leaves, brands, specs_by_category, datetime.now(UTC))


def generate_catalog(
    *, stores: int, skus: int, seed: int = 1, progress: Callable[[str], None] | None = None
) -> GenerateReport:
    """Open ``stores`` stores (slug ``gen<seed>-<n>``) with ``skus`` SKUs in all; commits in batches."""
    from mall.merchants.services import create_merchant

    started = time.perf_counter()
    rng = random.Random(seed)
    report = GenerateReport()
    owner = _owner()
    leaves, brands, specs_by_category = _taxonomy()
    db.session.commit()
    now = datetime.now(UTC)
    existing = set(db.session.scalars(select(Merchant.slug).where(Merchant.slug.like(f"gen{seed}-%"))))
    per_store, extra = divmod(skus, max(stores, 1))
    for n in range(stores):
        quota = per_store + (1 if n < extra else 0)
        name = f"{rng.choice(ADJECTIVES)}{rng.choice(ADJECTIVES)}{rng.choice(STORE_WORDS)} {n + 1}"
        slug = f"gen{seed}-{n + 1}"
        store_rng = random.Random(f"{seed}:{n}")
        if slug in existing:
            continue
        merchant = create_merchant(name, slug, owner)
        products, made = _store_catalog(store_rng, merchant, quota, leaves, brands, specs_by_category, now)
        report.stores += 1
        report.products += products
        report.skus += made
        if report.stores % BATCH_STORES == 0:
            db.session.commit()
            if progress:
                progress(f"  {report.stores} stores, {report.skus} SKUs…")
    db.session.commit()
    try:
        from mall.catalog.search import rebuild_search_terms
    except ImportError:  # pragma: no cover - search ships with the catalog
        rebuild_search_terms = None
    if rebuild_search_terms is not None:
        rebuild_search_terms()
        db.session.commit()
    report.seconds = time.perf_counter() - started
    return report
