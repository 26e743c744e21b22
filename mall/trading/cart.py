"""The cart across stores (C-09): lines of many stores in one cart, grouped by store when shown.

A shopper's cart is keyed by user; a guest's by a random token the web layer keeps in a cookie, and
it is merged into the shopper's cart at log-in. Lines keep only what the shopper chose (SKU,
quantity, selected) and the price when added; everything shown is read live from the public catalog
and the stores' schemas, so the cart always says what changed: a new price, too little stock, a
product or store no longer selling.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from mall.catalog.models import Product, PublicProduct, Sku
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import _
from mall.merchants.models import Merchant
from mall.tenancy import tenant
from mall.trading.models import Cart, CartLine

MAX_QUANTITY = 999  # per line
MAX_LINES = 120


class CartError(DomainError):
    pass


# ---------------------------------------------------------------------------------------------
# Which cart
# ---------------------------------------------------------------------------------------------


def new_guest_token() -> str:
    return secrets.token_urlsafe(32)


def find_cart(*, user_id: int | None = None, token: str | None = None) -> Cart | None:
    if user_id is not None:
        return db.session.scalar(select(Cart).where(Cart.user_id == user_id))
    if token:
        return db.session.scalar(select(Cart).where(Cart.token == token[:64]))
    return None


def get_or_create_cart(*, user_id: int | None = None, token: str | None = None) -> Cart:
    """The shopper's cart, or the guest cart of ``token``; created when missing (race-safe)."""
    cart = find_cart(user_id=user_id, token=token)
    if cart is not None:
        return cart
    if user_id is None and not token:
        raise ValueError("a cart belongs to a shopper or a guest token")
    try:
        with db.session.begin_nested():
            cart = Cart(user_id=user_id, token=None if user_id is not None else token)
            db.session.add(cart)
    except IntegrityError:  # another request created it first
        cart = find_cart(user_id=user_id, token=token)
        if cart is None:
            raise
    return cart


def _lock(cart: Cart) -> None:
    """Serialise changes to one cart (limits and merges read then write its lines)."""
    db.session.execute(select(Cart.id).where(Cart.id == cart.id).with_for_update())


def _touch(cart: Cart) -> None:
    cart.updated_at = func.now()


# ---------------------------------------------------------------------------------------------
# Live state of SKUs
# ---------------------------------------------------------------------------------------------


@dataclass
class LiveSku:
    sku_id: int
    product_id: int
    spec_values: dict
    price_cents: int
    stock: int
    buyable: bool  # product approved and on shelf, SKU active, public row visible, store open


def live_skus(merchant_id: int, sku_ids: Iterable[int]) -> dict[int, LiveSku]:
    """What the store sells now for these SKU ids (ids of other stores are not found)."""
    sku_ids = list(sku_ids)
    if not sku_ids:
        return {}
    merchant = db.session.get(Merchant, merchant_id)
    with tenant(merchant_id):
        rows = db.session.execute(
            select(
                Sku.id,
                Sku.product_id,
                Sku.spec_values,
                Sku.price_cents,
                Sku.stock,
                Sku.is_active,
                Product.status,
                Product.on_shelf,
            )
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.id.in_(sku_ids))
        ).all()
    visible = set(
        db.session.scalars(
            select(PublicProduct.id).where(
                PublicProduct.id.in_({row.product_id for row in rows}), PublicProduct.is_visible.is_(True)
            )
        )
    )
    store_open = merchant is not None and merchant.is_open
    return {
        row.id: LiveSku(
            row.id,
            row.product_id,
            dict(row.spec_values or {}),
            row.price_cents,
            max(row.stock, 0),
            store_open and row.is_active and row.status == "approved" and row.on_shelf and row.product_id in visible,
        )
        for row in rows
    }


def spec_text(spec_values: dict) -> str:
    return " / ".join(f"{name}: {value}" for name, value in spec_values.items())


# ---------------------------------------------------------------------------------------------
# Changing the cart
# ---------------------------------------------------------------------------------------------


def _quantity(value) -> int:
    try:
        quantity = int(str(value).strip())
    except (TypeError, ValueError):
        raise CartError(_("Enter a quantity of at least 1.")) from None
    if quantity < 1:
        raise CartError(_("Enter a quantity of at least 1."))
    if quantity > MAX_QUANTITY:
        raise CartError(_("At most %(n)d of one item per order.", n=MAX_QUANTITY))
    return quantity


def add_to_cart(cart: Cart, product_id: int, sku_id: int, quantity) -> CartLine:
    """Put ``quantity`` of a SKU in the cart (added to what is there), if it is on sale and in stock."""
    quantity = _quantity(quantity)
    row = db.session.get(PublicProduct, product_id)
    if row is None:
        raise NotFound(_("This product does not exist."))
    live = live_skus(row.merchant_id, [sku_id]).get(sku_id)
    if live is None or live.product_id != product_id:
        raise CartError(_("Choose one of the product's options."))
    if not live.buyable:
        raise CartError(_("This product is not available at the moment."))
    if live.stock == 0:
        raise CartError(_("This option is out of stock."))
    _lock(cart)
    line = db.session.scalar(select(CartLine).where(CartLine.cart_id == cart.id, CartLine.sku_id == sku_id))
    in_cart = line.quantity if line is not None else 0
    if in_cart + quantity > live.stock:
        if in_cart:
            raise CartError(_("Only %(stock)d left, and %(n)d are in your cart already.", stock=live.stock, n=in_cart))
        raise CartError(_("Only %(stock)d left.", stock=live.stock))
    if in_cart + quantity > MAX_QUANTITY:
        raise CartError(_("At most %(n)d of one item per order.", n=MAX_QUANTITY))
    if line is None:
        lines = db.session.scalar(select(func.count()).where(CartLine.cart_id == cart.id))
        if lines >= MAX_LINES:
            raise CartError(_("Your cart is full (%(n)d items). Remove some first.", n=MAX_LINES))
        line = CartLine(cart_id=cart.id, merchant_id=row.merchant_id, product_id=product_id, sku_id=sku_id, quantity=0)
        db.session.add(line)
    line.quantity = in_cart + quantity
    line.price_cents_added = live.price_cents
    line.is_selected = True
    _touch(cart)
    db.session.flush()
    return line


def _line(cart: Cart, line_id: int) -> CartLine:
    line = db.session.scalar(select(CartLine).where(CartLine.id == line_id, CartLine.cart_id == cart.id))
    if line is None:
        raise NotFound(_("This item is no longer in your cart."))
    return line


def set_quantity(cart: Cart, line_id: int, quantity) -> CartLine:
    """Change a line's quantity; more than the stock is refused with how many are left."""
    quantity = _quantity(quantity)
    _lock(cart)
    line = _line(cart, line_id)
    if quantity > line.quantity:  # fewer is always allowed
        live = live_skus(line.merchant_id, [line.sku_id]).get(line.sku_id)
        if live is None or not live.buyable:
            raise CartError(_("This product is not available at the moment."))
        if quantity > live.stock:
            raise CartError(_("Only %(stock)d left.", stock=live.stock))
    line.quantity = quantity
    _touch(cart)
    db.session.flush()
    return line


def remove_lines(cart: Cart, line_ids: Iterable[int]) -> int:
    """Remove these lines of this cart (ids of other carts are ignored); how many went."""
    ids = [int(i) for i in line_ids]
    if not ids:
        return 0
    _lock(cart)
    removed = db.session.execute(delete(CartLine).where(CartLine.cart_id == cart.id, CartLine.id.in_(ids))).rowcount
    _touch(cart)
    db.session.flush()
    db.session.expire(cart, ["lines"])
    return removed


def select_lines(cart: Cart, line_ids: Iterable[int] | None, selected: bool) -> None:
    """Select or unselect lines for checkout (``None``: every line of the cart)."""
    stmt = update(CartLine).where(CartLine.cart_id == cart.id)
    if line_ids is not None:
        stmt = stmt.where(CartLine.id.in_([int(i) for i in line_ids]))
    db.session.execute(stmt.values(is_selected=selected))
    _touch(cart)
    db.session.flush()
    db.session.expire(cart, ["lines"])


def merge_guest_cart(token: str, user_id: int) -> int:
    """Move a guest cart's lines into the shopper's cart (quantities of the same SKU add up, up to
    the per-line limit) and delete the guest cart; how many lines came over."""
    guest = find_cart(token=token)
    if guest is None:
        return 0
    cart = get_or_create_cart(user_id=user_id)
    _lock(cart)
    _lock(guest)
    mine = {line.sku_id: line for line in db.session.scalars(select(CartLine).where(CartLine.cart_id == cart.id))}
    moved = 0
    for line in list(guest.lines):
        existing = mine.get(line.sku_id)
        if existing is not None:
            existing.quantity = min(existing.quantity + line.quantity, MAX_QUANTITY)
            existing.is_selected = existing.is_selected or line.is_selected
        elif len(mine) < MAX_LINES:
            mine[line.sku_id] = CartLine(
                cart_id=cart.id,
                merchant_id=line.merchant_id,
                product_id=line.product_id,
                sku_id=line.sku_id,
                quantity=line.quantity,
                is_selected=line.is_selected,
                price_cents_added=line.price_cents_added,
            )
            db.session.add(mine[line.sku_id])
        else:
            continue
        moved += 1
    db.session.delete(guest)
    _touch(cart)
    db.session.flush()
    return moved


# ---------------------------------------------------------------------------------------------
# Showing the cart
# ---------------------------------------------------------------------------------------------


@dataclass
class CartItem:
    line: CartLine
    title: str
    slug: str
    image_key: str | None
    specs: str
    price_cents: int | None  # now; None when the SKU is gone
    stock: int
    status: str  # "ok", "short" (fewer in stock than wanted), "out_of_stock", "unavailable"

    @property
    def price_changed(self) -> bool:
        return self.price_cents is not None and self.price_cents != self.line.price_cents_added

    @property
    def buyable(self) -> bool:
        return self.status == "ok"

    @property
    def subtotal_cents(self) -> int:
        return (self.price_cents or 0) * self.line.quantity


@dataclass
class CartStore:
    merchant: Merchant
    items: list[CartItem] = field(default_factory=list)

    @property
    def selected_total_cents(self) -> int:
        return sum(item.subtotal_cents for item in self.items if item.line.is_selected and item.buyable)


@dataclass
class CartView:
    stores: list[CartStore]

    @property
    def items(self) -> list[CartItem]:
        return [item for store in self.stores for item in store.items]

    @property
    def count(self) -> int:
        return sum(item.line.quantity for item in self.items)

    @property
    def selected(self) -> list[CartItem]:
        return [item for item in self.items if item.line.is_selected and item.buyable]

    @property
    def selected_count(self) -> int:
        return sum(item.line.quantity for item in self.selected)

    @property
    def selected_total_cents(self) -> int:
        return sum(item.subtotal_cents for item in self.selected)

    @property
    def problems(self) -> list[CartItem]:
        """Selected lines that cannot be bought as they are (too few left, sold out, gone)."""
        return [item for item in self.items if item.line.is_selected and not item.buyable]


def view_cart(cart: Cart | None) -> CartView:
    """The cart grouped by store (in the order stores were first added), each line read live."""
    if cart is None:
        return CartView([])
    lines = list(db.session.scalars(select(CartLine).where(CartLine.cart_id == cart.id).order_by(CartLine.id)))
    by_store: dict[int, list[CartLine]] = {}
    for line in lines:
        by_store.setdefault(line.merchant_id, []).append(line)
    rows = {
        row.id: row
        for row in db.session.scalars(
            select(PublicProduct).where(PublicProduct.id.in_({line.product_id for line in lines}))
        )
    }
    stores = []
    for merchant_id, store_lines in by_store.items():
        merchant = db.session.get(Merchant, merchant_id)
        live = live_skus(merchant_id, [line.sku_id for line in store_lines])
        store = CartStore(merchant)
        for line in store_lines:
            row, sku = rows.get(line.product_id), live.get(line.sku_id)
            if sku is None or row is None or not sku.buyable:
                status = "unavailable"
            elif sku.stock == 0:
                status = "out_of_stock"
            elif sku.stock < line.quantity:
                status = "short"
            else:
                status = "ok"
            store.items.append(
                CartItem(
                    line=line,
                    title=row.title if row is not None else _("Product no longer listed"),
                    slug=row.slug if row is not None else "item",
                    image_key=row.main_image_key if row is not None else None,
                    specs=spec_text(sku.spec_values) if sku is not None else "",
                    price_cents=sku.price_cents if sku is not None else None,
                    stock=sku.stock if sku is not None else 0,
                    status=status,
                )
            )
        stores.append(store)
    return CartView(stores)


def cart_count(cart: Cart | None) -> int:
    """How many units are in the cart (for the header), without reading the stores."""
    if cart is None:
        return 0
    return int(
        db.session.scalar(select(func.coalesce(func.sum(CartLine.quantity), 0)).where(CartLine.cart_id == cart.id))
    )
