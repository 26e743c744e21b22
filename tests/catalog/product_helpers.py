"""Helpers of the product editor tests: a small taxonomy, editor values, images, live products."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

from PIL import Image

from mall.catalog.models import Brand, Category, CategoryAttribute, CategorySpec, Product, Tag
from mall.catalog.publishing import sync_public_product
from mall.storage.services import Upload


@dataclass
class Taxonomy:
    root: Category
    leaf: Category
    other_leaf: Category
    material: CategoryAttribute  # select, required (on the root: inherited)
    style: CategoryAttribute  # multi
    length: CategoryAttribute  # number
    origin: CategoryAttribute  # text
    brand: Brand
    disabled_brand: Brand
    tag: Tag


def make_taxonomy(db) -> Taxonomy:
    """服饰 (root, with a required 材质 attribute) → 围巾 (leaf: 风格, 长度, 产地; specs 颜色, 尺码) and 帽子."""
    root = Category(name="服饰", slug="apparel-t", path="/")
    db.session.add(root)
    db.session.flush()
    root.path = f"/{root.id}/"
    leaf = Category(name="围巾", slug="scarves-t", parent_id=root.id, depth=1, path="/")
    other = Category(name="帽子", slug="hats-t", parent_id=root.id, depth=1, path="/")
    db.session.add_all([leaf, other])
    db.session.flush()
    leaf.path = f"{root.path}{leaf.id}/"
    other.path = f"{root.path}{other.id}/"
    material = CategoryAttribute(
        category_id=root.id, name="材质", input="select", options=["羊绒", "棉"], is_required=True, position=0
    )
    style = CategoryAttribute(category_id=leaf.id, name="风格", input="multi", options=["休闲", "商务"], position=1)
    length = CategoryAttribute(category_id=leaf.id, name="长度", input="number", unit="cm", position=2)
    origin = CategoryAttribute(category_id=leaf.id, name="产地", input="text", position=3)
    brand = Brand(name="Highland T", slug="highland-t")
    disabled = Brand(name="Gone T", slug="gone-t", is_enabled=False)
    tag = Tag(name="新品T", slug="new-t")
    db.session.add_all(
        [
            material,
            style,
            length,
            origin,
            CategorySpec(category_id=leaf.id, name="颜色", values=["红", "灰"], position=0),
            CategorySpec(category_id=leaf.id, name="尺码", values=["S", "M", "L"], position=1),
            brand,
            disabled,
            tag,
        ]
    )
    db.session.flush()
    return Taxonomy(root, leaf, other, material, style, length, origin, brand, disabled, tag)


def png(color=(200, 30, 30), size=(900, 600), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def image(name: str = "photo.png", **kw) -> Upload:
    return Upload(png(**kw), name)


def mp4() -> Upload:
    """The start of a real MP4: an ``ftyp`` box (brand isom) and an empty ``mdat`` box."""
    ftyp = b"ftyp" + b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41"
    return Upload(struct.pack(">I", len(ftyp) + 4) + ftyp + struct.pack(">I", 8) + b"mdat", "film.mp4")


def raw_product(tax: Taxonomy, **overrides) -> dict:
    """Editor values of a scarf with 颜色 x 尺码 (2 x 3) and every SKU priced."""
    specs = [{"name": "颜色", "values": "红, 灰"}, {"name": "尺码", "values": "S, M, L"}]
    skus = {
        f"颜色:{c}|尺码:{s}": {"price": "199.00", "market_price": "299", "stock": "", "code": "", "weight": "250"}
        for c in ("红", "灰")
        for s in ("S", "M", "L")
    }
    raw = {
        "title": "羊绒围巾 Cashmere scarf",
        "subtitle": "Warm",
        "slug": "",
        "category_id": str(tax.leaf.id),
        "brand_id": str(tax.brand.id),
        "tag_ids": [str(tax.tag.id)],
        "store_category_ids": [],
        "attributes": {str(tax.material.id): "羊绒", str(tax.style.id): ["休闲"], str(tax.length.id): "180.50"},
        "specs": specs,
        "skus": skus,
        "images": [],
        "description_html": "<p>Soft</p><script>alert(1)</script>",
        "after_sales": "7 days",
    }
    raw.update(overrides)
    return raw


def single_raw(tax: Taxonomy, price: str = "99.00", **overrides) -> dict:
    """A product without specs: one SKU with key ""."""
    overrides.setdefault("skus", {"": {"price": price, "code": "", "stock": ""}})
    return raw_product(tax, specs=[], **overrides)


def make_live(product: Product, *, on_shelf: bool = True) -> None:
    """As if the platform approved it (the review service is another module's)."""
    product.status = "approved"
    product.approved_at = datetime.now(UTC)
    product.on_shelf = on_shelf
    sync_public_product(product)
