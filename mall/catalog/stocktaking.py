"""Stocktaking sessions (M-05): count the shelf, then confirm the differences as movements.

One session may be open per store (a partial unique index on ``stocktakes``). Opening it snapshots
each chosen SKU's stock as the line's ``expected``; staff enter counts over time (partial saves,
blank = not counted yet); confirming writes, for every counted line, a ``stocktake`` movement.

**The rule for sales during counting:** the difference found is ``counted - expected`` (what the
shelf holds compared with what the system said *when the session opened*), and that difference is
applied as a delta to the SKU's *current* stock at confirm time. So units sold (or returned) while
the count was going on stay accounted for: expected 10, 2 sold during counting (stock 8), counted 9
→ difference -1 → stock 7, not 9. Staff count goods that were sold but not yet picked as sold (as
the snapshot did). A difference that would take stock below zero refuses the whole confirmation,
naming the SKU. Uncounted lines change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from mall.audit.services import record_audit
from mall.catalog.inventory import InsufficientStock, after_stock_change, apply_stock_change, parse_count
from mall.catalog.models import Product, Sku, Stocktake, StocktakeLine
from mall.catalog.paging import Page, paged
from mall.catalog.stock_edits import sku_label
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import _
from mall.tenancy import require_merchant_id


class CountsInvalid(DomainError):
    """Some counts could not be read; ``errors`` maps line id → message. Nothing was saved."""

    def __init__(self, errors: dict[int, str]):
        super().__init__(_("Some counts are not valid: nothing was saved."))
        self.errors = errors


@dataclass(frozen=True)
class ConfirmResult:
    counted: int  # lines with a count
    changed: int  # lines whose difference was written as a movement
    net: int  # sum of the differences


def countable_products(limit: int = 500) -> list[tuple[int, str]]:
    """``(id, title)`` of the store's products that a stocktake may count, newest first."""
    return [
        tuple(row)
        for row in db.session.execute(
            select(Product.id, Product.title)
            .where(Product.status != "archived")
            .order_by(Product.id.desc())
            .limit(limit)
        )
    ]


def open_stocktake_of_store() -> Stocktake | None:
    return db.session.scalar(select(Stocktake).where(Stocktake.status == "open"))


def get_stocktake(stocktake_id: int) -> Stocktake:
    stocktake = db.session.get(Stocktake, stocktake_id)
    if stocktake is None:
        raise NotFound(_("This stocktake does not exist in your store."))
    return stocktake


def _open_for_update(stocktake_id: int) -> Stocktake:
    stocktake = db.session.scalar(
        select(Stocktake)
        .where(Stocktake.id == stocktake_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if stocktake is None:
        raise NotFound(_("This stocktake does not exist in your store."))
    if stocktake.status != "open":
        raise DomainError(_("This stocktake is already closed."))
    return stocktake


def open_stocktake(actor, *, product_ids: list[int] | None = None, note: str | None = None) -> Stocktake:
    """Open the store's counting session over some products (``None``: every product), snapshotting
    the stock of each of their active SKUs."""
    if open_stocktake_of_store() is not None:
        raise DomainError(_("A stocktake is already open: confirm or cancel it first."))
    stmt = select(Sku.id, Sku.stock).join(Product, Product.id == Sku.product_id)
    stmt = stmt.where(Product.status != "archived", Sku.is_active.is_(True))
    if product_ids is not None:
        wanted = {int(i) for i in product_ids}
        if not wanted:
            raise DomainError(_("Choose the products to count, or count everything."), field="products")
        found = set(db.session.scalars(select(Product.id).where(Product.id.in_(wanted))))
        if found != wanted:
            raise NotFound(_("This product does not exist in your store."))
        stmt = stmt.where(Product.id.in_(wanted))
    skus = db.session.execute(stmt.order_by(Product.id, Sku.position, Sku.id)).all()
    if not skus:
        raise DomainError(_("There is nothing to count: add products first."))
    note = (note or "").strip()[:500] or None
    stocktake = Stocktake(status="open", note=note, created_by_id=actor.id)
    stocktake.lines = [StocktakeLine(sku_id=sku_id, expected=stock) for sku_id, stock in skus]
    try:
        with db.session.begin_nested():
            db.session.add(stocktake)
            db.session.flush()
    except IntegrityError:  # another member opened one at the same moment
        raise DomainError(_("A stocktake is already open: confirm or cancel it first.")) from None
    record_audit(
        "inventory.stocktake.open", area="merchant", merchant_id=require_merchant_id(), obj=stocktake,
        changes={"lines": [None, len(skus)], "note": [None, note]},
    )  # fmt: skip
    return stocktake


def stocktake_lines(stocktake_id: int, *, only: str | None = None, page: int = 1, per_page: int = 100) -> Page:
    """``(line, sku, product)`` of a session; ``only`` = ``counted``, ``uncounted`` or ``different``."""
    stmt = (
        select(StocktakeLine, Sku, Product)
        .join(Sku, Sku.id == StocktakeLine.sku_id)
        .join(Product, Product.id == Sku.product_id)
        .where(StocktakeLine.stocktake_id == stocktake_id)
    )
    if only == "counted":
        stmt = stmt.where(StocktakeLine.counted.is_not(None))
    elif only == "uncounted":
        stmt = stmt.where(StocktakeLine.counted.is_(None))
    elif only == "different":
        stmt = stmt.where(StocktakeLine.counted.is_not(None), StocktakeLine.counted != StocktakeLine.expected)
    return paged(stmt.order_by(StocktakeLine.id), page, per_page)


def progress(stocktake_id: int) -> dict:
    """Lines, counted lines and the net difference so far."""
    lines, counted, net = db.session.execute(
        select(
            func.count(),
            func.count(StocktakeLine.counted),
            func.coalesce(func.sum(StocktakeLine.counted - StocktakeLine.expected), 0),
        ).where(StocktakeLine.stocktake_id == stocktake_id)
    ).one()
    return {"lines": lines, "counted": counted, "net": int(net)}


def save_counts(actor, stocktake_id: int, counts: dict[int, str]) -> int:
    """Save some counts (line id → text; blank clears a count); returns how many lines changed.

    Every value is checked first: one bad value saves nothing (``CountsInvalid``). A line id that is
    not a line of this session (another session's, another store's) is a 404.
    """
    stocktake = _open_for_update(stocktake_id)
    wanted = {int(k): v for k, v in counts.items()}
    lines = {
        line.id: line
        for line in db.session.scalars(
            select(StocktakeLine).where(StocktakeLine.stocktake_id == stocktake.id, StocktakeLine.id.in_(wanted))
        )
    }
    if len(lines) != len(wanted):
        raise NotFound(_("This line is not part of the stocktake."))
    values: dict[int, int | None] = {}
    errors: dict[int, str] = {}
    for line_id, text in wanted.items():
        text = (text or "").strip()
        try:
            values[line_id] = parse_count(text) if text else None
        except DomainError as error:
            errors[line_id] = error.message
    if errors:
        raise CountsInvalid(errors)
    changed = 0
    for line_id, value in values.items():
        if lines[line_id].counted != value:
            lines[line_id].counted = value
            changed += 1
    db.session.flush()
    return changed


def confirm_stocktake(actor, stocktake_id: int) -> ConfirmResult:
    """Write the counted differences as ``stocktake`` movements and close the session, atomically
    (see the module docstring for the rule)."""
    stocktake = _open_for_update(stocktake_id)
    rows = db.session.execute(
        select(StocktakeLine, Sku)
        .join(Sku, Sku.id == StocktakeLine.sku_id)
        .where(StocktakeLine.stocktake_id == stocktake.id, StocktakeLine.counted.is_not(None))
        .order_by(Sku.id)  # the same lock order as orders take
    ).all()
    changes = []
    net = 0
    ref = f"stocktake-{stocktake.id}"
    for line, sku in rows:
        difference = line.counted - line.expected
        if difference == 0:
            continue
        try:
            changes.append(
                apply_stock_change(
                    sku.id,
                    difference,
                    "stocktake",
                    actor_id=actor.id,
                    ref=ref,
                    note=_("Counted %(counted)s, expected %(expected)s", counted=line.counted, expected=line.expected),
                )
            )
        except InsufficientStock as error:
            raise DomainError(
                _(
                    "%(sku)s: the difference %(difference)s would take the stock below zero (%(n)s left now). "
                    "Correct the count.",
                    sku=sku_label(sku),
                    difference=difference,
                    n=error.available,
                )
            ) from None
        net += difference
    stocktake.status = "confirmed"
    stocktake.closed_at = datetime.now(UTC)
    stocktake.closed_by_id = actor.id
    db.session.flush()
    after_stock_change(changes)
    record_audit(
        "inventory.stocktake.confirm", area="merchant", merchant_id=require_merchant_id(), obj=stocktake,
        changes={"counted": [None, len(rows)], "changed": [None, len(changes)], "net": [None, net]},
    )  # fmt: skip
    return ConfirmResult(counted=len(rows), changed=len(changes), net=net)


def cancel_stocktake(actor, stocktake_id: int) -> Stocktake:
    """Close the session without touching any stock."""
    stocktake = _open_for_update(stocktake_id)
    stocktake.status = "cancelled"
    stocktake.closed_at = datetime.now(UTC)
    stocktake.closed_by_id = actor.id
    db.session.flush()
    record_audit("inventory.stocktake.cancel", area="merchant", merchant_id=require_merchant_id(), obj=stocktake)
    return stocktake


def stocktake_history(*, page: int = 1, per_page: int = 20) -> Page:
    """``(stocktake, lines, counted lines)``, newest first."""
    stmt = (
        select(Stocktake, func.count(StocktakeLine.id), func.count(StocktakeLine.counted))
        .outerjoin(StocktakeLine, StocktakeLine.stocktake_id == Stocktake.id)
        .group_by(Stocktake.id)
        .order_by(Stocktake.id.desc())
    )
    return paged(stmt, page, per_page)
