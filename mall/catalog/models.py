"""Catalog tables.

Platform schema (``public``): the taxonomy every store shares — categories (any depth, with
attribute and spec templates and a commission rate), brands, tags — and the **public catalog**:
one ``public_products`` row per published product of any store, the searchable copy that mall
pages, search and favourites read. Its id is the store's product id (tenant ids are globally
unique), so a public row always names exactly one product in exactly one store.

Tenant schema (each store's ``m_<id>``): the store's own categories, products with their images,
SKUs, pending revisions, the stock movement log, stocktaking sessions and "notify me" requests.

Product life cycle (``Product.status``)::

    draft ──submit──▶ submitted ──approve──▶ approved (live) ──take down──▶ taken_down
      ▲                  │                     │  ▲
      └──── edit ◀── rejected ◀──reject────────┘  └── a pending ProductRevision is approved
                                                      (edits of a live product wait in a revision
                                                       while the approved content keeps selling)
    any state with no order referencing it → deleted; otherwise → archived

A product is *visible* in the mall when it is approved, on shelf, and its store is open; the
public row's ``is_visible`` carries exactly that.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mall.extensions import db
from mall.tenancy.models import TenantModel

PRODUCT_STATUSES = ("draft", "submitted", "approved", "rejected", "taken_down", "archived")
REVISION_STATUSES = ("draft", "submitted", "approved", "rejected", "withdrawn")
STOCK_REASONS = ("initial", "sale", "cancel", "return", "adjustment", "stocktake", "import")
ATTRIBUTE_INPUTS = ("text", "select", "multi", "number")
HOME_BLOCK_KINDS = ("banners", "hot_products", "stores", "brands", "category_zone", "new_arrivals", "offers")

# ---------------------------------------------------------------------------------------------
# Platform taxonomy
# ---------------------------------------------------------------------------------------------


class Category(db.Model):
    """A platform category at any depth. ``path`` lists the ids from the root down to this one
    (``/3/17/42/``) so a subtree is ``path LIKE '/3/17/%'``."""

    __tablename__ = "categories"
    __table_args__ = (
        CheckConstraint("commission_rate_bp IS NULL OR commission_rate_bp BETWEEN 0 AND 10000", name="commission"),
        Index("ix_categories_parent_position", "parent_id", "position"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(60))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # Basis points (500 = 5 %); None inherits from the parent, then the platform default.
    commission_rate_bp: Mapped[int | None] = mapped_column(Integer)
    depth: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    path: Mapped[str] = mapped_column(String(400), default="/", server_default="/", index=True)
    icon_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_objects.id", ondelete="SET NULL"))
    seo_title: Mapped[str | None] = mapped_column(String(120))
    seo_description: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    parent: Mapped[Category | None] = relationship(remote_side="Category.id", back_populates="children")
    children: Mapped[list[Category]] = relationship(back_populates="parent", order_by="Category.position")
    attributes: Mapped[list[CategoryAttribute]] = relationship(
        back_populates="category", order_by="CategoryAttribute.position", cascade="all, delete-orphan"
    )
    specs: Mapped[list[CategorySpec]] = relationship(
        back_populates="category", order_by="CategorySpec.position", cascade="all, delete-orphan"
    )

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to this category (itself included)."""
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def __str__(self) -> str:
        return self.name


class CategoryAttribute(db.Model):
    """An attribute template (material, size chart…): products of the category and its
    sub-categories fill it in; filterable ones become search facets."""

    __tablename__ = "category_attributes"
    __table_args__ = (
        CheckConstraint(f"input IN {ATTRIBUTE_INPUTS}", name="input"),
        UniqueConstraint("category_id", "name"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    input: Mapped[str] = mapped_column(String(16), default="text", server_default="text")
    options: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    unit: Mapped[str | None] = mapped_column(String(16))
    is_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    is_filterable: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    category: Mapped[Category] = relationship(back_populates="attributes")


class CategorySpec(db.Model):
    """A spec template (colour, size): the axes of a product's SKU matrix, with suggested values."""

    __tablename__ = "category_specs"
    __table_args__ = (UniqueConstraint("category_id", "name"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    values: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    category: Mapped[Category] = relationship(back_populates="specs")


class Brand(db.Model):
    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    initial: Mapped[str | None] = mapped_column(String(1))  # A to Z (or #) for the brand hall's index
    logo_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_objects.id", ondelete="SET NULL"))
    story: Mapped[str | None] = mapped_column(Text)
    is_featured: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def __str__(self) -> str:
        return self.name


class Tag(db.Model):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def __str__(self) -> str:
        return self.name


# ---------------------------------------------------------------------------------------------
# The public catalog (platform schema): what the mall shows and searches
# ---------------------------------------------------------------------------------------------


class PublicProduct(db.Model):
    """The searchable copy of one approved product. Written only by the publishing service
    (``mall.catalog.publishing``) whenever the approved content, price, stock, shelf state or the
    store's status changes; never edited by hand."""

    __tablename__ = "public_products"
    __table_args__ = (
        Index("ix_public_products_search", "search_vector", postgresql_using="gin"),
        Index("ix_public_products_tags", "tag_ids", postgresql_using="gin"),
        Index("ix_public_products_attributes", "attributes", postgresql_using="gin"),
        Index(
            "ix_public_products_category_path", "category_path", postgresql_ops={"category_path": "text_pattern_ops"}
        ),
        Index("ix_public_products_visible_sales", "is_visible", "sales_count"),
        Index("ix_public_products_visible_published", "is_visible", "published_at"),
        Index("ix_public_products_visible_price", "is_visible", "price_min_cents"),
        Index("ix_public_products_merchant", "merchant_id", "is_visible"),
        # Related products and category zones: a category's best sellers without a sort.
        Index(
            "ix_public_products_category_sales",
            "category_id",
            "sales_count",
            postgresql_where=text("is_visible"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # = the store's product id
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(120))
    subtitle: Mapped[str | None] = mapped_column(String(200))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"), index=True)
    category_path: Mapped[str] = mapped_column(String(400))
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="SET NULL"), index=True)
    tag_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    store_category_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    attributes: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")  # attribute name → value(s)
    main_image_key: Mapped[str | None] = mapped_column(String(300))
    price_min_cents: Mapped[int] = mapped_column(BigInteger)
    price_max_cents: Mapped[int] = mapped_column(BigInteger)
    market_price_cents: Mapped[int | None] = mapped_column(BigInteger)  # of the cheapest SKU
    is_on_offer: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    stock_total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    sales_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    rating: Mapped[float | None] = mapped_column(Numeric(3, 2))
    review_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_visible: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Words of title, brand, category, attributes and store, segmented by jieba (Chinese) and
    # lower-cased (other scripts); ``search_vector`` is built from it with the ``simple`` config.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="", deferred=True)
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR, Computed("to_tsvector('simple'::regconfig, search_text)", persisted=True), deferred=True
    )
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    merchant = relationship("Merchant", lazy="joined")
    category: Mapped[Category] = relationship()
    brand: Mapped[Brand | None] = relationship()


class SearchTerm(db.Model):
    """The prefix dictionary behind suggestions while typing: titles' words, brands, categories, stores."""

    __tablename__ = "search_terms"
    __table_args__ = (
        UniqueConstraint("term", "kind"),
        Index("ix_search_terms_prefix", "term", postgresql_ops={"term": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    term: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))  # word, brand, category, store
    ref_id: Mapped[int | None] = mapped_column(BigInteger)
    weight: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


REVIEW_KINDS = ("new", "revision")
REVIEW_STATUSES = ("pending", "approved", "rejected", "withdrawn")


class ReviewQueueItem(db.Model):
    """One submission waiting for (or decided by) the platform's product review: a new product or a
    revision of a live one. The platform lists all stores' submissions from this table instead of
    scanning every store's schema; the product itself stays in its store (plain ids, no foreign key)."""

    __tablename__ = "product_review_queue"
    __table_args__ = (
        CheckConstraint(f"kind IN {REVIEW_KINDS}", name="kind"),
        CheckConstraint(f"status IN {REVIEW_STATUSES}", name="status"),
        Index(
            "uq_product_review_queue_pending",
            "merchant_id",
            "product_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_product_review_queue_status_submitted", "status", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(BigInteger)
    revision_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(120))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(String(1000))

    merchant = relationship("Merchant", lazy="joined")


# ---------------------------------------------------------------------------------------------
# Shoppers' favourites and history, the operator's home page (platform schema)
# ---------------------------------------------------------------------------------------------


class FavoriteFolder(db.Model):
    __tablename__ = "favorite_folders"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProductFavorite(db.Model):
    __tablename__ = "product_favorites"
    __table_args__ = (UniqueConstraint("user_id", "product_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("public_products.id", ondelete="CASCADE"), index=True)
    folder_id: Mapped[int | None] = mapped_column(ForeignKey("favorite_folders.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    product: Mapped[PublicProduct] = relationship(lazy="joined")


class BrowsingHistory(db.Model):
    """The last time a shopper viewed a product (one row per pair, refreshed on each view)."""

    __tablename__ = "browsing_history"
    __table_args__ = (
        UniqueConstraint("user_id", "product_id"),
        Index("ix_browsing_history_user_viewed", "user_id", "viewed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("public_products.id", ondelete="CASCADE"))
    viewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    product: Mapped[PublicProduct] = relationship(lazy="joined")


class HomeBlock(db.Model):
    """A block of the mall home page, in the operator's order: banners, hot products, recommended
    stores, hot brands, a category zone, new arrivals, special offers."""

    __tablename__ = "home_blocks"
    __table_args__ = (CheckConstraint(f"kind IN {HOME_BLOCK_KINDS}", name="kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str | None] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    config: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")  # e.g. category_id, limit
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BannerSlide(db.Model):
    """An operator-managed banner in a slot (``home`` or ``category:<id>``), optionally time-boxed."""

    __tablename__ = "banner_slides"
    __table_args__ = (Index("ix_banner_slides_slot_position", "slot", "position"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    slot: Mapped[str] = mapped_column(String(40), default="home", server_default="home")
    image_file_id: Mapped[int] = mapped_column(ForeignKey("stored_objects.id", ondelete="RESTRICT"))
    title: Mapped[str | None] = mapped_column(String(80))
    link: Mapped[str | None] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# ---------------------------------------------------------------------------------------------
# Each store's products (tenant schema)
# ---------------------------------------------------------------------------------------------


class StoreCategory(TenantModel):
    """The store's own categories (two levels in the editor), shown in the store's navigation."""

    __tablename__ = "store_categories"

    parent_id: Mapped[int | None] = mapped_column(ForeignKey("store_categories.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_visible: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Product(TenantModel):
    """A store's product. While approved, its columns and SKUs are the live (selling) content;
    edits wait in a ``ProductRevision`` until approved."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint(f"status IN {PRODUCT_STATUSES}", name="status"),
        Index("ix_products_status", "status"),
    )

    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    title: Mapped[str] = mapped_column(String(120))
    subtitle: Mapped[str | None] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(120))
    # Platform ids (plain columns: tenant tables do not hold foreign keys into ``public``).
    category_id: Mapped[int] = mapped_column(BigInteger)
    brand_id: Mapped[int | None] = mapped_column(BigInteger)
    tag_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    store_category_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    specs: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")  # [{"name", "values": [...]}]
    attributes: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")  # attribute id → value(s)
    description_html: Mapped[str | None] = mapped_column(Text)  # sanitised (nh3) on save
    after_sales: Mapped[str | None] = mapped_column(Text)
    video_file_id: Mapped[int | None] = mapped_column(BigInteger)
    on_shelf: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    shelve_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # scheduled on-shelf
    unshelve_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # scheduled off-shelf
    status_reason: Mapped[str | None] = mapped_column(String(1000))  # rejection or take-down reason
    sales_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # optimistic lock
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    images: Mapped[list[ProductImage]] = relationship(
        back_populates="product", order_by="ProductImage.position", cascade="all, delete-orphan"
    )
    skus: Mapped[list[Sku]] = relationship(
        back_populates="product", order_by="Sku.position", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}


class ProductImage(TenantModel):
    __tablename__ = "product_images"
    __table_args__ = (Index("ix_product_images_product_position", "product_id", "position"),)

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    file_id: Mapped[int] = mapped_column(BigInteger)  # public.stored_objects
    thumb_file_id: Mapped[int | None] = mapped_column(BigInteger)  # written by the thumbnail job
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    product: Mapped[Product] = relationship(back_populates="images")


class Sku(TenantModel):
    """One cell of the SKU matrix. Stock never goes below zero (a database constraint), and every
    change of it is a ``StockMovement`` row."""

    __tablename__ = "skus"
    __table_args__ = (
        UniqueConstraint("product_id", "spec_key"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        CheckConstraint("market_price_cents IS NULL OR market_price_cents >= 0", name="market_price_not_negative"),
        Index("uq_skus_code", "code", unique=True, postgresql_where=text("code IS NOT NULL")),
    )

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    spec_values: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")  # spec name → value
    spec_key: Mapped[str] = mapped_column(String(255), default="", server_default="")  # canonical, "" = no specs
    code: Mapped[str | None] = mapped_column(String(64))
    market_price_cents: Mapped[int | None] = mapped_column(BigInteger)
    price_cents: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    weight_grams: Mapped[int | None] = mapped_column(Integer)
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer)
    low_stock_alerted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    product: Mapped[Product] = relationship(back_populates="skus")


class ProductRevision(TenantModel):
    """Pending changes to a live product: the whole editable content (``data``, the same shape the
    editor saves, SKUs and images included), reviewed like a new product."""

    __tablename__ = "product_revisions"
    __table_args__ = (
        CheckConstraint(f"status IN {REVISION_STATUSES}", name="status"),
        Index(
            "uq_product_revisions_open",
            "product_id",
            unique=True,
            postgresql_where=text("status IN ('draft', 'submitted')"),
        ),
    )

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    data: Mapped[dict] = mapped_column(JSONB)
    reason: Mapped[str | None] = mapped_column(String(1000))
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(BigInteger)

    product: Mapped[Product] = relationship()


class StockMovement(TenantModel):
    """One change of one SKU's stock; per SKU, the deltas sum to the current stock."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint(f"reason IN {STOCK_REASONS}", name="reason"),
        CheckConstraint("stock_after >= 0", name="stock_after_not_negative"),
        Index("ix_stock_movements_sku", "sku_id", "id"),
    )

    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    delta: Mapped[int] = mapped_column(Integer)
    stock_after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(500))
    ref: Mapped[str | None] = mapped_column(String(64))  # order number, stocktake id, import file…
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Stocktake(TenantModel):
    """A counting session: counts are entered per SKU, then confirmed (the differences become
    ``stocktake`` movements) or cancelled."""

    __tablename__ = "stocktakes"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'confirmed', 'cancelled')", name="status"),
        # One open session per store at a time.
        Index("uq_stocktakes_open", "status", unique=True, postgresql_where=text("status = 'open'")),
    )

    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    note: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by_id: Mapped[int | None] = mapped_column(BigInteger)

    lines: Mapped[list[StocktakeLine]] = relationship(
        back_populates="stocktake", order_by="StocktakeLine.id", cascade="all, delete-orphan"
    )


class StocktakeLine(TenantModel):
    __tablename__ = "stocktake_lines"
    __table_args__ = (UniqueConstraint("stocktake_id", "sku_id"),)

    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    expected: Mapped[int] = mapped_column(Integer)  # stock when the line was added
    counted: Mapped[int | None] = mapped_column(Integer)

    stocktake: Mapped[Stocktake] = relationship(back_populates="lines")


class RestockRequest(TenantModel):
    """ "Notify me when back in stock" for one SKU by one shopper; notified once, then kept."""

    __tablename__ = "restock_requests"
    __table_args__ = (
        Index(
            "uq_restock_requests_waiting",
            "sku_id",
            "user_id",
            unique=True,
            postgresql_where=text("notified_at IS NULL"),
        ),
    )

    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
