"""After-sales (C-14, M-07, P-06): return and refund, refund only, exchange.

One state machine for the buyer, the store and the platform::

    requested ──store approves──→ refunded (refund only)
        │                     └─→ approved ──buyer sends the goods back──→ returning
        │                                                                   │
        │           store receives: quality passed → refunded / replaced (a zero-price order)
        │                           quality failed → rejected
        └──store refuses──→ rejected ──buyer escalates──→ disputed ──platform decides──→
                               │                                   store: closed
                               └─ not escalated in time: closed    buyer: refunded / approved / replaced

Every waiting step has a deadline (``due_at``) with an automatic outcome, run by ``run_due_cases``:
the store silent on a request → approved (a refund-only request is refunded); the buyer not sending
the goods back → closed; the store not confirming a returned parcel → received with quality passed;
a refusal not escalated → closed. The buyer may withdraw while the store has not decided or before
sending the goods.

Money: a case never refunds more than was paid for its lines (each line's share of the order's
discount comes off first) less what was refunded for them already; the shipping fee can be refunded
when a case takes back everything left of the order. Each refund gives back the matching share of
the line's frozen commission, so a line refunded in full gives back all of it. The refund goes through
``payments.services.refund_order`` (ledger: the store's pending money down, the buyer owed).
Goods returned with the quality check passed go back into stock (logged as ``return``).

The cases live in the store's schema; the order index row carries ``case_status`` and
``case_due_at`` so that lists, the deadline job and the completion job never walk the store schemas.
An order with an open case is not completed (its money stays pending).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mall.audit.services import record_audit
from mall.catalog.inventory import InsufficientStock, release_stock, reserve_stock
from mall.catalog.models import Sku
from mall.catalog.money import format_cents, parse_yuan
from mall.catalog.paging import Page, paged
from mall.errors import DomainError, NotFound, PermissionDenied
from mall.extensions import db
from mall.i18n import L_, _
from mall.identity.access import has_operator_permission
from mall.identity.models import User
from mall.jobs.core import platform_job
from mall.ledger.allocation import allocate, proportional
from mall.merchants.models import StoreProfile
from mall.merchants.services import notify_staff, require_staff_permission
from mall.notifications.services import notify
from mall.payments.services import refund_order
from mall.storage.services import Photo, UploadRejected, store_upload
from mall.tenancy import tenant
from mall.tenancy.binding import require_merchant_id
from mall.trading.cart import spec_text
from mall.trading.models import (
    CASE_KINDS,
    OPEN_CASE_STATUSES,
    AfterSalesCase,
    AfterSalesEvent,
    AfterSalesLine,
    Checkout,
    Order,
    OrderLine,
)
from mall.trading.orders import lock_order
from mall.web.urls import external_url

REQUESTABLE = ("partially_shipped", "shipped", "received")  # after shipment, until completion
TEXT_MAX, MAX_PHOTOS = 1000, 6
CARRIER_MAX, TRACKING_RE = 40, re.compile(r"^[A-Za-z0-9-]{4,40}$")

KIND_LABELS = {
    "return_refund": L_("Return and refund"),
    "refund_only": L_("Refund only"),
    "exchange": L_("Exchange"),
}
STATUS_LABELS = {
    "requested": L_("Waiting for the store"),
    "approved": L_("Send the goods back"),
    "returning": L_("Goods on the way back"),
    "rejected": L_("Refused by the store"),
    "disputed": L_("Platform arbitration"),
    "refunded": L_("Refunded"),
    "replaced": L_("Replacement sent"),
    "closed": L_("Closed"),
}
REASONS = {
    "not_received": L_("Not received"),
    "damaged": L_("Damaged or broken"),
    "not_as_described": L_("Not as described"),
    "wrong_item": L_("Wrong item or specification"),
    "quality": L_("Quality problem"),
    "changed_mind": L_("Changed my mind (unused)"),
    "size": L_("Wrong size or colour for me"),
    "other": L_("Other"),
}
OUTCOME_LABELS = {
    "withdrawn": L_("Withdrawn by the buyer"),
    "refused": L_("Refused by the store"),
    "not_returned": L_("The goods were not sent back in time"),
    "decided_for_store": L_("The platform decided for the store"),
}
ACTION_LABELS = {
    "requested": L_("Request made"),
    "approved": L_("Approved"),
    "rejected": L_("Refused"),
    "withdrawn": L_("Withdrawn"),
    "returned": L_("Goods sent back"),
    "received": L_("Goods received"),
    "quality_failed": L_("Quality check failed"),
    "refunded": L_("Refunded"),
    "replaced": L_("Replacement order created"),
    "escalated": L_("Escalated to the platform"),
    "statement": L_("Statement"),
    "decided": L_("Platform decision"),
    "closed": L_("Closed"),
}
ACTOR_LABELS = {
    "buyer": L_("Buyer"),
    "store": L_("Store"),
    "platform": L_("Platform"),
    "system": L_("Automatic"),
}


class AfterSalesError(DomainError):
    pass


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def case_status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def _days(setting: str) -> timedelta:
    return timedelta(days=current_app.config[setting])


def _text(value: str | None, *, field: str, limit: int = TEXT_MAX, required: bool = False) -> str | None:
    text = re.sub(r"[ \t]+", " ", (value or "").replace("\r\n", "\n")).strip()
    if required and not text:
        raise AfterSalesError(_("Give a reason."), field=field)
    if len(text) > limit:
        raise AfterSalesError(_("At most %(n)d characters.", n=limit), field=field)
    return text or None


def _store_photos(photos: list[Photo], owner_id: int, merchant_id: int) -> list[str]:
    photos = list(photos)
    if len(photos) > MAX_PHOTOS:
        raise AfterSalesError(_("At most %(n)d photos.", n=MAX_PHOTOS), field="photos")
    keys = []
    for photo in photos:
        try:
            upload = store_upload(
                photo.data, photo.filename, purpose="after-sales", owner_id=owner_id, merchant_id=merchant_id
            )
        except UploadRejected as error:
            raise AfterSalesError(error.message, field="photos") from error
        keys.append(upload.key)
    return keys


# ---------------------------------------------------------------------------------------------
# Money: what each line was paid, what is left to refund
# ---------------------------------------------------------------------------------------------


@dataclass
class Refundable:
    """What a case may refund: per order line id, and the shipping fee when it may be included."""

    lines: dict[int, int]
    shipping: int

    @property
    def total(self) -> int:
        return sum(self.lines.values()) + self.shipping


def paid_for_lines(order: Order, lines: list[OrderLine]) -> tuple[dict[int, int], int]:
    """What the buyer paid for each line and for shipping: the line's price less its share of the
    mall coupon (frozen on it) and of the store's discount (split here, to the cent, over what the
    lines have left; with a coupon a cent of each line is always left to the buyer)."""
    keep = 1 if order.platform_discount_cents else 0
    room = [line.total_cents - line.platform_discount_cents - keep for line in lines]
    goods_discount = min(order.discount_cents, sum(room))
    shares = allocate(goods_discount, room)
    paid = {
        line.id: line.total_cents - line.platform_discount_cents - share
        for line, share in zip(lines, shares, strict=True)
    }
    return paid, order.shipping_cents - (order.discount_cents - goods_discount)


@dataclass(frozen=True)
class LineSplit:
    """How a line's price divides: the store's discount, the mall coupon, what the buyer paid."""

    store_discount_cents: int
    platform_discount_cents: int
    paid_cents: int


def line_splits(order: Order, lines: list[OrderLine]) -> dict[int, LineSplit]:
    """Each line's split when a discount (the store's or a mall coupon) makes what the buyer paid
    differ from the price; empty otherwise (the order pages then show no split)."""
    if not (order.discount_cents or order.platform_discount_cents):
        return {}
    paid, _shipping = paid_for_lines(order, lines)
    return {
        line.id: LineSplit(
            line.total_cents - line.platform_discount_cents - paid[line.id], line.platform_discount_cents, paid[line.id]
        )
        for line in lines
    }


def _claimed(order_id: int, exclude_case_id: int | None = None) -> dict[int, int]:
    """Units of each line taken by cases that are open or succeeded (bound store)."""
    rows = db.session.execute(
        select(AfterSalesLine.order_line_id, AfterSalesLine.quantity)
        .join(AfterSalesCase, AfterSalesCase.id == AfterSalesLine.case_id)
        .where(
            AfterSalesCase.order_id == order_id,
            AfterSalesCase.status != "closed",
            AfterSalesCase.id != (exclude_case_id or 0),
        )
    ).all()
    claimed: dict[int, int] = {}
    for line_id, quantity in rows:
        claimed[line_id] = claimed.get(line_id, 0) + quantity
    return claimed


def refundable(
    order: Order, lines: list[OrderLine], wanted: dict[int, int], kind: str, case_id: int | None = None
) -> Refundable:
    """The most a case taking ``wanted`` (line id → units) may refund (bound store).

    A line's units share what is left of its paid amount: taking the last units takes all of it.
    The shipping fee is included when the case takes every unit left of the order (not an exchange).
    """
    if kind == "exchange":
        return Refundable({line_id: 0 for line_id in wanted}, 0)
    paid, shipping_paid = paid_for_lines(order, lines)
    claimed = _claimed(order.id, case_id)
    by_id = {line.id: line for line in lines}
    caps: dict[int, int] = {}
    takes_all = True
    for line in lines:
        left_units = line.quantity - claimed.get(line.id, 0)
        units = wanted.get(line.id, 0)
        left_cents = paid[line.id] - line.refunded_cents
        if units and left_units > 0:
            caps[line.id] = left_cents if units >= left_units else left_cents * units // left_units
        if units < left_units:
            takes_all = False
    shipping_refunded = order.refunded_cents - sum(line.refunded_cents for line in by_id.values())
    shipping = max(0, shipping_paid - shipping_refunded) if takes_all else 0
    return Refundable(caps, shipping)


def _check_amount(cents: int, most: int) -> None:
    if not 0 < cents <= most:
        raise AfterSalesError(
            _("The refund must be more than zero and at most ¥%(max)s.", max=format_cents(most)), field="amount"
        )


def _pay_refund(order: Order, case: AfterSalesCase, amount: int | None, reason: str) -> None:
    """Refund ``amount`` for ``case`` (None: what the buyer asked, or what is left if less): split
    over its lines (and shipping), each line's commission share given back, the refund sent through
    the provider (bound store, order row locked). Nothing left to refund refunds nothing."""
    lines = list(db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)))
    wanted = {cl.order_line_id: cl.quantity for cl in case.lines}
    caps = refundable(order, lines, wanted, case.kind, case.id)
    if amount is None:
        amount = min(case.requested_cents, caps.total)
        if amount <= 0:
            return
    _check_amount(amount, caps.total)
    paid, _shipping = paid_for_lines(order, lines)
    keys = list(caps.lines)
    shares = allocate(amount, [caps.lines[k] for k in keys] + [caps.shipping])
    by_id = {line.id: line for line in lines}
    commission = platform = 0
    for line_id, share in zip(keys, shares, strict=False):
        line = by_id[line_id]
        before, after = line.refunded_cents, line.refunded_cents + share
        commission += _share_between(before, after, paid[line_id], line.commission_cents or 0)
        platform += _share_between(before, after, paid[line_id], line.platform_discount_cents)
        line.refunded_cents = after
        for case_line in case.lines:
            if case_line.order_line_id == line_id:
                case_line.refund_cents += share
    db.session.flush()
    refund = refund_order(order, amount, reason[:300], commission_cents=commission, platform_cents=platform)
    case.refund_cents += amount
    case.refund_id = refund.id


def _share_between(before: int, after: int, paid: int, amount: int) -> int:
    """What refunding a line from ``before`` to ``after`` of its ``paid`` cents takes of ``amount``
    (its commission, its coupon share): in proportion, so refunding all of it takes all."""
    return proportional(after, paid, amount) - proportional(before, paid, amount)


def _return_stock(case: AfterSalesCase, actor_id: int | None) -> None:
    """The returned units go back into stock (bound store)."""
    moves = []
    for case_line in case.lines:
        line = db.session.get(OrderLine, case_line.order_line_id)
        line.returned_quantity += case_line.quantity
        moves.append((line.sku_id, case_line.quantity))
    release_stock(moves, reason="return", ref=f"after-sales:{case.id}", actor_id=actor_id)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _locked_order(order_id: int) -> Order:
    return lock_order(db.session.get(Order, order_id))


def cases_of_order(order: Order) -> list[AfterSalesCase]:
    """The order's cases with their lines and timeline, newest first (plain objects)."""
    return cases_of_orders([order])[order.id]


def cases_of_orders(orders: list[Order]) -> dict[int, list[AfterSalesCase]]:
    """The cases of several orders by order id: one query per store, lines and timelines included."""
    found: dict[int, list[AfterSalesCase]] = {order.id: [] for order in orders}
    by_store: dict[int, list[int]] = {}
    for order in orders:
        by_store.setdefault(order.merchant_id, []).append(order.id)
    for merchant_id, order_ids in by_store.items():
        with tenant(merchant_id):
            cases = db.session.scalars(
                select(AfterSalesCase)
                .where(AfterSalesCase.order_id.in_(order_ids))
                .options(selectinload(AfterSalesCase.lines), selectinload(AfterSalesCase.events))
                .order_by(AfterSalesCase.id.desc())
            ).all()
            for case in cases:
                db.session.expunge(case)  # plain values from here on: never lazy-load against another store
                found[case.order_id].append(case)
    return found


def buyer_case(user_id: int, order_id: int, case_id: int) -> tuple[Order, AfterSalesCase]:
    order = db.session.scalar(select(Order).where(Order.id == order_id, Order.user_id == user_id))
    case = next((c for c in cases_of_order(order) if c.id == case_id), None) if order else None
    if case is None:
        raise NotFound(_("This after-sales request does not exist."))
    return order, case


STORE_FILTERS: dict[str, tuple[str, ...]] = {
    "to_handle": ("requested", "returning"),
    "waiting": ("approved", "rejected"),
    "disputed": ("disputed",),
    "done": ("refunded", "replaced", "closed"),
    "all": (),
}
STORE_FILTER_LABELS = {
    "to_handle": L_("To handle"),
    "waiting": L_("Waiting for the buyer"),
    "disputed": L_("In arbitration"),
    "done": L_("Finished"),
    "all": L_("All"),
}


def store_cases(status: str = "to_handle", page: int = 1) -> Page:
    """The bound store's cases by filter as (case, order) pairs, the nearest deadline first for open ones."""
    require_merchant_id()
    stmt = select(AfterSalesCase)
    statuses = STORE_FILTERS.get(status, ())
    if statuses:
        stmt = stmt.where(AfterSalesCase.status.in_(statuses))
    if status in ("to_handle", "waiting", "disputed"):
        stmt = stmt.order_by(AfterSalesCase.due_at.asc().nulls_last(), AfterSalesCase.id)
    else:
        stmt = stmt.order_by(AfterSalesCase.updated_at.desc(), AfterSalesCase.id.desc())
    result = paged(stmt, page, 20)
    result.items = [row[0] for row in result.items]
    ids = {case.order_id for case in result.items}
    orders = {o.id: o for o in db.session.scalars(select(Order).where(Order.id.in_(ids)))} if ids else {}
    result.items = [(case, orders.get(case.order_id)) for case in result.items]
    return result


def store_case(case_id: int) -> tuple[Order, AfterSalesCase]:
    """One case of the bound store (another store's case is not found)."""
    case = db.session.get(AfterSalesCase, case_id)
    if case is None:
        raise NotFound(_("This after-sales request does not exist."))
    order = db.session.scalar(
        select(Order).where(Order.id == case.order_id, Order.merchant_id == require_merchant_id())
    )
    if order is None:
        raise NotFound(_("This after-sales request does not exist."))
    return order, case


def disputed_orders(page: int = 1, include_open: bool = False) -> Page:
    """Orders whose cases wait for the platform (or, with ``include_open``, any with an open case)."""
    statuses = ("disputed", "open") if include_open else ("disputed",)
    stmt = select(Order).where(Order.case_status.in_(statuses)).order_by(Order.updated_at, Order.id)
    result = paged(stmt, page, 50)
    result.items = [row[0] for row in result.items]
    return result


# ---------------------------------------------------------------------------------------------
# Keeping the order index in step; telling people
# ---------------------------------------------------------------------------------------------


def _event(
    case: AfterSalesCase,
    actor: str,
    action: str,
    note: str | None = None,
    actor_id: int | None = None,
    photos: list[str] | None = None,
) -> None:
    case.events.append(
        AfterSalesEvent(actor=actor, actor_id=actor_id, action=action, note=note, photo_keys=photos or [])
    )
    case.updated_at = datetime.now(UTC)


def _set(case: AfterSalesCase, status: str, due: str | None = None, outcome: str | None = None) -> None:
    now = datetime.now(UTC)
    case.status = status
    case.due_at = now + _days(due) if due else None
    if status not in OPEN_CASE_STATUSES:
        case.closed_at, case.outcome = now, outcome
    case.updated_at = now


def _sync_order(order: Order) -> None:
    """The order index's view of its cases (bound store, order row locked)."""
    db.session.flush()
    rows = db.session.execute(
        select(AfterSalesCase.status, AfterSalesCase.due_at).where(AfterSalesCase.order_id == order.id)
    ).all()
    statuses = {status for status, _due in rows}
    if "disputed" in statuses:
        order.case_status = "disputed"
    elif statuses & set(OPEN_CASE_STATUSES):
        order.case_status = "open"
    else:
        order.case_status = "closed" if rows else None
    dues = [due for status, due in rows if due is not None and status in OPEN_CASE_STATUSES]
    order.case_due_at = min(dues) if dues else None
    order.updated_at = datetime.now(UTC)
    db.session.flush()


def _link(endpoint: str, **values) -> str | None:
    try:
        return external_url(endpoint, **values)
    except RuntimeError:
        return None


def _tell_buyer(order: Order, case: AfterSalesCase, subject, body) -> None:
    notify(order.user_id, subject, body, _link("consumer.after_sales_case", order_id=order.id, case_id=case.id))


def _tell_store(order: Order, case: AfterSalesCase, subject, body) -> None:
    link = _link("merchant.after_sales_case", case_id=case.id)
    notify_staff(order.merchant_id, "service.manage", subject, body, link)


# ---------------------------------------------------------------------------------------------
# The buyer
# ---------------------------------------------------------------------------------------------


def request_case(
    user_id: int,
    order_id: int,
    kind: str,
    quantities: dict[int, int],
    reason: str,
    description: str | None = None,
    amount: str | None = None,
    photos: list[Photo] = (),
    exchange_sku_id: int | None = None,
) -> AfterSalesCase:
    """The buyer asks for after-sales on some units of some lines of a shipped order."""
    order = db.session.scalar(select(Order).where(Order.id == order_id, Order.user_id == user_id))
    if order is None:
        raise NotFound(_("This order does not exist."))
    order = _locked_order(order.id)
    if order.status not in REQUESTABLE:
        raise AfterSalesError(_("After-sales can be requested once the order has shipped, until it is completed."))
    if kind not in CASE_KINDS:
        raise AfterSalesError(_("Choose what you want: return and refund, refund only or exchange."), field="kind")
    if reason not in REASONS:
        raise AfterSalesError(_("Choose a reason."), field="reason")
    description = _text(description, field="description")
    wanted = {int(k): int(v) for k, v in quantities.items() if int(v) > 0}
    if not wanted:
        raise AfterSalesError(_("Choose the items and how many."), field="lines")
    if kind == "exchange" and len(wanted) != 1:
        raise AfterSalesError(_("An exchange is for one item at a time."), field="lines")
    with tenant(order.merchant_id):
        lines = list(db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)))
        by_id = {line.id: line for line in lines}
        claimed = _claimed(order.id)
        open_lines = set(
            db.session.scalars(
                select(AfterSalesLine.order_line_id)
                .join(AfterSalesCase, AfterSalesCase.id == AfterSalesLine.case_id)
                .where(AfterSalesCase.order_id == order.id, AfterSalesCase.status.in_(OPEN_CASE_STATUSES))
            )
        )
        for line_id, units in wanted.items():
            line = by_id.get(line_id)
            if line is None:
                raise NotFound(_("This item is not in the order."))
            if line_id in open_lines:
                raise AfterSalesError(_("%(item)s already has a request in progress.", item=line.title), field="lines")
            limit = line.quantity - claimed.get(line_id, 0)
            if kind != "refund_only":  # goods can only come back once they were sent
                limit = min(limit, line.shipped_quantity - claimed.get(line_id, 0))
            if units > limit:
                raise AfterSalesError(
                    _("%(item)s: at most %(n)d can be in a request.", item=line.title, n=max(limit, 0)), field="lines"
                )
        caps = refundable(order, lines, wanted, kind)
        if kind == "exchange":
            requested = 0
            line = by_id[next(iter(wanted))]
            sku_id = int(exchange_sku_id or line.sku_id)
            same_product = select(Sku.id).where(Sku.id == sku_id, Sku.product_id == line.product_id, Sku.is_active)
            if db.session.scalar(same_product) is None:
                raise AfterSalesError(_("Choose a specification of the same product."), field="exchange_sku")
        else:
            sku_id = None
            if caps.total <= 0:
                raise AfterSalesError(_("Nothing is left to refund for these items."), field="lines")
            requested = caps.total if not (amount or "").strip() else parse_yuan(amount, field="amount")
            _check_amount(requested, caps.total)
        keys = _store_photos(photos, user_id, order.merchant_id)
        case = AfterSalesCase(
            order_id=order.id,
            user_id=user_id,
            kind=kind,
            reason=reason,
            description=description,
            photo_keys=keys,
            requested_cents=requested,
            exchange_sku_id=sku_id,
            lines=[AfterSalesLine(order_line_id=line_id, quantity=units) for line_id, units in wanted.items()],
            events=[],
        )
        db.session.add(case)
        _set(case, "requested", "MALL_CASE_REPLY_DAYS")
        _event(case, "buyer", "requested", description, user_id, keys)
        _sync_order(order)
    _tell_store(
        order,
        case,
        L_("After-sales request on order %(number)s", number=order.number),
        L_(
            "The buyer asks for %(kind)s (%(reason)s). Answer within %(n)d days, or it is approved automatically.",
            kind=KIND_LABELS[kind],
            reason=REASONS[reason],
            n=current_app.config["MALL_CASE_REPLY_DAYS"],
        ),
    )
    return case


def _buyer_order(user_id: int, order_id: int) -> Order:
    """The buyer's order, its row locked."""
    order = db.session.scalar(select(Order).where(Order.id == order_id, Order.user_id == user_id))
    if order is None:
        raise NotFound(_("This after-sales request does not exist."))
    return _locked_order(order.id)


def _case_in(order: Order, case_id: int) -> AfterSalesCase:
    case = db.session.scalar(
        select(AfterSalesCase)
        .where(AfterSalesCase.id == case_id, AfterSalesCase.order_id == order.id)
        .with_for_update()
    )
    if case is None:
        raise NotFound(_("This after-sales request does not exist."))
    return case


def _not_now() -> AfterSalesError:
    return AfterSalesError(_("This request has moved on: reload the page to see where it stands."))


def withdraw(user_id: int, order_id: int, case_id: int) -> AfterSalesCase:
    """The buyer withdraws a request before the goods are sent back (or after a refusal)."""
    order = _buyer_order(user_id, order_id)
    with tenant(order.merchant_id):
        case = _case_in(order, case_id)
        if not case.can_withdraw:
            raise _not_now()
        _set(case, "closed", outcome="withdrawn")
        _event(case, "buyer", "withdrawn", None, user_id)
        _sync_order(order)
    _tell_store(
        order,
        case,
        L_("After-sales request withdrawn"),
        L_("The buyer withdrew the request on order %(number)s.", number=order.number),
    )
    return case


def ship_back(user_id: int, order_id: int, case_id: int, carrier: str, tracking_number: str) -> AfterSalesCase:
    """The buyer sent the goods back: carrier and tracking number."""
    carrier = re.sub(r"\s+", " ", carrier or "").strip()
    tracking_number = (tracking_number or "").strip().upper()
    if not carrier or len(carrier) > CARRIER_MAX:
        raise AfterSalesError(_("Give the carrier (at most %(n)d characters).", n=CARRIER_MAX), field="carrier")
    if not TRACKING_RE.match(tracking_number):
        raise AfterSalesError(_("A tracking number has 4 to 40 letters, digits or dashes."), field="tracking_number")
    order = _buyer_order(user_id, order_id)
    with tenant(order.merchant_id):
        case = _case_in(order, case_id)
        if case.status != "approved":
            raise _not_now()
        case.return_carrier, case.return_tracking = carrier, tracking_number
        case.returned_at = datetime.now(UTC)
        _set(case, "returning", "MALL_CASE_RECEIVE_DAYS")
        _event(case, "buyer", "returned", f"{carrier} {tracking_number}", user_id)
        _sync_order(order)
    _tell_store(
        order,
        case,
        L_("Goods sent back for order %(number)s", number=order.number),
        L_(
            "%(carrier)s, tracking number %(tracking)s. "
            "Confirm receipt within %(n)d days, or it is accepted automatically.",
            carrier=carrier,
            tracking=tracking_number,
            n=current_app.config["MALL_CASE_RECEIVE_DAYS"],
        ),
    )
    return case


def escalate(
    user_id: int, order_id: int, case_id: int, statement: str | None, photos: list[Photo] = ()
) -> AfterSalesCase:
    """The buyer asks the platform to decide a refused request, with a statement and evidence."""
    statement = _text(statement, field="statement", required=True)
    order = _buyer_order(user_id, order_id)
    with tenant(order.merchant_id):
        case = _case_in(order, case_id)
        if case.status != "rejected":
            raise _not_now()
        keys = _store_photos(photos, user_id, order.merchant_id)
        case.escalated_at = datetime.now(UTC)
        _set(case, "disputed")
        _event(case, "buyer", "escalated", statement, user_id, keys)
        _sync_order(order)
    _tell_store(
        order,
        case,
        L_("After-sales dispute on order %(number)s", number=order.number),
        L_("The buyer asked the platform to decide. Add your statement and evidence to the case."),
    )
    return case


def add_statement(
    actor_kind: str, actor: User, order: Order, case_id: int, statement: str | None, photos: list[Photo] = ()
) -> AfterSalesCase:
    """A statement with evidence while the platform decides (buyer or store)."""
    statement = _text(statement, field="statement", required=True)
    order = _locked_order(order.id)
    with tenant(order.merchant_id):
        case = _case_in(order, case_id)
        if case.status != "disputed":
            raise _not_now()
        keys = _store_photos(photos, actor.id, order.merchant_id)
        _event(case, actor_kind, "statement", statement, actor.id, keys)
        db.session.flush()
    return case


def buyer_statement(user_id: int, order_id: int, case_id: int, statement: str | None, photos: list[Photo] = ()):
    order = db.session.scalar(select(Order).where(Order.id == order_id, Order.user_id == user_id))
    if order is None:
        raise NotFound(_("This after-sales request does not exist."))
    return add_statement("buyer", db.session.get(User, user_id), order, case_id, statement, photos)


# ---------------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------------


def _store_open(actor: User, case_id: int) -> tuple[Order, AfterSalesCase]:
    require_staff_permission(actor, "service.manage")
    order, _case = store_case(case_id)
    order = _locked_order(order.id)
    return order, _case_in(order, case_id)


def default_return_address(merchant_id: int) -> str:
    with tenant(merchant_id):
        profile = db.session.scalar(select(StoreProfile).limit(1))
    if profile is None:
        return ""
    parts = [profile.return_contact, profile.return_phone, profile.return_address or profile.address]
    return " ".join(part for part in parts if part)


def _approve(
    order: Order,
    case: AfterSalesCase,
    actor: str,
    actor_id: int | None,
    amount: int | None,
    return_address: str | None,
    note: str | None = None,
) -> None:
    """Approve (bound store, rows locked): a refund-only request is refunded now; goods to come back
    get the return address and the buyer's deadline."""
    if case.kind == "refund_only":
        _event(case, actor, "approved", note, actor_id)
        _refund_case(
            order,
            case,
            actor,
            actor_id,
            amount,
            L_("Refund on its way"),
            lambda **v: L_("Your request on order %(number)s was approved: ¥%(amount)s is being refunded.", **v),
        )
        return
    if amount is not None:
        case.requested_cents = amount  # what the store agreed to refund once the goods are back
    case.return_address = (return_address or default_return_address(order.merchant_id))[:300] or None
    _set(case, "approved", "MALL_CASE_RETURN_DAYS")
    _event(case, actor, "approved", note or case.return_address, actor_id)
    _tell_buyer(
        order,
        case,
        L_("Send the goods back"),
        L_(
            "Your request on order %(number)s was approved. "
            "Send the goods to %(address)s within %(n)d days and enter the tracking number.",
            number=order.number,
            address=case.return_address or "",
            n=current_app.config["MALL_CASE_RETURN_DAYS"],
        ),
    )


def _parse_amount(text: str | None) -> int | None:
    return parse_yuan(text, field="amount") if (text or "").strip() else None


def approve(actor: User, case_id: int, amount: str | None = None, return_address: str | None = None) -> AfterSalesCase:
    """The store approves a request (optionally a smaller refund, and where to send the goods)."""
    address = _text(return_address, field="return_address", limit=300)
    cents = _parse_amount(amount)
    order, case = _store_open(actor, case_id)
    if case.status != "requested":
        raise _not_now()
    if cents is not None and case.kind != "exchange":
        _check_amount(cents, _caps(order, case))
    _approve(order, case, "store", actor.id, cents, address)
    _store_done(order, case, "after_sales.approve", {"refund_cents": [None, cents]})
    return case


def _store_done(order: Order, case: AfterSalesCase, action: str, changes: dict) -> None:
    """A store's step is taken: the order index follows its cases, the step is audited."""
    _sync_order(order)
    record_audit(action, area="merchant", merchant_id=order.merchant_id, obj=case, changes=changes)


def _caps(order: Order, case: AfterSalesCase) -> int:
    lines = list(db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)))
    return refundable(order, lines, {cl.order_line_id: cl.quantity for cl in case.lines}, case.kind, case.id).total


def reject(actor: User, case_id: int, reason: str | None) -> AfterSalesCase:
    """The store refuses a request with a reason; the buyer may escalate to the platform."""
    reason = _text(reason, field="reason", limit=300, required=True)
    order, case = _store_open(actor, case_id)
    if case.status != "requested":
        raise _not_now()
    case.store_reason = reason
    _set(case, "rejected", "MALL_CASE_ESCALATE_DAYS")
    _event(case, "store", "rejected", reason, actor.id)
    _store_done(order, case, "after_sales.reject", {"reason": [None, reason]})
    _tell_buyer(
        order,
        case,
        L_("After-sales request refused"),
        L_(
            "The store refused your request on order %(number)s: %(reason)s. "
            "You can ask the platform to decide within %(n)d days.",
            number=order.number,
            reason=reason,
            n=current_app.config["MALL_CASE_ESCALATE_DAYS"],
        ),
    )
    return case


def _settle_returned(order: Order, case: AfterSalesCase, actor: str, actor_id: int | None, amount: int | None) -> None:
    """Goods back and accepted (bound store, rows locked): refund them or send the replacement."""
    if case.kind == "exchange":
        replacement = _replacement_order(order, case, actor_id)
        case.replacement_order_id = replacement.id
        _set(case, "replaced")
        _event(case, actor, "replaced", replacement.number, actor_id)
        _tell_buyer(
            order,
            case,
            L_("Replacement on its way"),
            L_(
                "The store received your return: replacement order %(number)s will be shipped.",
                number=replacement.number,
            ),
        )
        return
    _refund_case(
        order,
        case,
        actor,
        actor_id,
        amount,
        L_("Refund on its way"),
        lambda **v: L_("The store received your return on order %(number)s: ¥%(amount)s is being refunded.", **v),
    )


def _refund_case(
    order: Order,
    case: AfterSalesCase,
    actor: str,
    actor_id: int | None,
    amount: int | None,
    subject: object,
    body: Callable[..., object],
) -> None:
    """Refund the case (see ``_pay_refund``), close it as refunded and tell the buyer: ``body`` makes
    the message from ``number`` and ``amount`` (a lazy string, rendered in the buyer's language)."""
    _pay_refund(order, case, amount, f"after-sales {case.id}" + (" (platform)" if actor == "platform" else ""))
    _set(case, "refunded")
    _event(case, actor, "refunded", format_cents(case.refund_cents), actor_id)
    _tell_buyer(order, case, subject, body(number=order.number, amount=format_cents(case.refund_cents)))


def receive(
    actor: User, case_id: int, passed: bool, note: str | None = None, amount: str | None = None
) -> AfterSalesCase:
    """The store received the goods back and records the quality check: passed → back in stock and
    refunded (or the replacement is created); failed → refused (the buyer may escalate)."""
    note = _text(note, field="note", limit=500, required=not passed)
    cents = _parse_amount(amount)
    order, case = _store_open(actor, case_id)
    if case.status != "returning":
        raise _not_now()
    case.received_at, case.quality_passed, case.quality_note = datetime.now(UTC), passed, note
    _event(case, "store", "received" if passed else "quality_failed", note, actor.id)
    if passed:
        _return_stock(case, actor.id)
        _settle_returned(order, case, "store", actor.id, cents)
    else:
        case.store_reason = note
        _set(case, "rejected", "MALL_CASE_ESCALATE_DAYS")
        _tell_buyer(
            order,
            case,
            L_("Returned goods failed the quality check"),
            L_(
                "The store says: %(note)s. You can ask the platform to decide within %(n)d days.",
                note=note,
                n=current_app.config["MALL_CASE_ESCALATE_DAYS"],
            ),
        )
    _store_done(order, case, "after_sales.receive", {"quality_passed": [None, passed]})
    return case


def store_statement(actor: User, case_id: int, statement: str | None, photos: list[Photo] = ()) -> AfterSalesCase:
    require_staff_permission(actor, "service.manage")
    order, _case = store_case(case_id)
    return add_statement("store", actor, order, case_id, statement, photos)


def _replacement_order(order: Order, case: AfterSalesCase, actor_id: int | None) -> Order:
    """A zero-price order for the exchanged units, paid at once and shipped like any other."""
    case_line = case.lines[0]
    line = db.session.get(OrderLine, case_line.order_line_id)
    sku = db.session.get(Sku, case.exchange_sku_id or line.sku_id)
    now = datetime.now(UTC)
    checkout = Checkout(
        user_id=order.user_id,
        idempotency_key=f"replacement-{order.merchant_id}-{case.id}",
        status="paid",
        total_cents=0,
        pay_by=now,
        paid_at=now,
    )
    db.session.add(checkout)
    db.session.flush()
    replacement = Order(
        checkout_id=checkout.id,
        user_id=order.user_id,
        merchant_id=order.merchant_id,
        status="paid",
        delivery=order.delivery,
        goods_cents=0,
        total_cents=0,
        item_count=case_line.quantity,
        summary=line.title[:200],
        buyer_note=str(_("Replacement for order %(number)s", number=order.number))[:200],
        address=order.address,
        pickup_address=order.pickup_address,
        paid_at=now,
        replaces_order_id=order.id,
    )
    if order.delivery == "pickup":
        replacement.pickup_code = f"{secrets.randbelow(10**6):06d}"
    db.session.add(replacement)
    db.session.flush()
    db.session.refresh(replacement, ["created_at"])
    try:
        reserve_stock(
            [(sku.id, case_line.quantity)],
            reason="sale",
            ref=f"order:{replacement.number}",
            actor_id=actor_id,
            note=f"after-sales {case.id}",
        )
    except InsufficientStock as short:
        raise AfterSalesError(
            _("%(item)s: only %(n)d left for the replacement. Add stock first.", item=line.title, n=short.available)
        ) from short
    specs = line.specs if sku.id == line.sku_id else spec_text(sku.spec_values)
    db.session.add(
        OrderLine(
            order_id=replacement.id,
            product_id=line.product_id,
            sku_id=sku.id,
            title=line.title,
            specs=specs[:255],
            image_key=line.image_key,
            category_id=line.category_id,
            unit_price_cents=0,
            quantity=case_line.quantity,
            total_cents=0,
            commission_bp=0,
            commission_cents=0,
        )
    )
    db.session.flush()
    return replacement


# ---------------------------------------------------------------------------------------------
# The platform
# ---------------------------------------------------------------------------------------------


def platform_case(order_id: int, case_id: int) -> tuple[Order, AfterSalesCase]:
    order = db.session.get(Order, order_id)
    case = next((c for c in cases_of_order(order) if c.id == case_id), None) if order else None
    if case is None:
        raise NotFound(_("This after-sales request does not exist."))
    return order, case


def decide(
    actor: User, order_id: int, case_id: int, for_buyer: bool, note: str | None, amount: str | None = None
) -> AfterSalesCase:
    """The platform's binding decision on a disputed case, with its reasons (audited)."""
    if not has_operator_permission(actor, "orders.manage"):
        raise PermissionDenied(_("You do not have permission to arbitrate disputes."))
    note = _text(note, field="note", required=True)
    cents = _parse_amount(amount)
    order = db.session.get(Order, order_id)
    if order is None:
        raise NotFound(_("This after-sales request does not exist."))
    order = _locked_order(order.id)
    with tenant(order.merchant_id):
        case = _case_in(order, case_id)
        if case.status != "disputed":
            raise _not_now()
        if for_buyer and cents is not None and case.kind != "exchange":
            _check_amount(cents, _caps(order, case))
        case.decision, case.decision_note, case.decided_by_id = ("buyer" if for_buyer else "store"), note, actor.id
        _event(case, "platform", "decided", note, actor.id)
        if not for_buyer:
            _set(case, "closed", outcome="decided_for_store")
            _tell_buyer(
                order,
                case,
                L_("The platform decided your dispute"),
                L_("The platform decided for the store: %(note)s", note=note),
            )
        elif case.kind == "refund_only" or case.received_at is not None:
            # nothing to send back, or the store has the goods already (a disputed quality check)
            if case.kind == "exchange":
                _settle_returned(order, case, "platform", actor.id, None)
            else:
                _refund_case(
                    order,
                    case,
                    "platform",
                    actor.id,
                    cents,
                    L_("The platform decided your dispute"),
                    lambda **v: L_(
                        "The platform decided for you on order %(number)s: ¥%(amount)s is being refunded.", **v
                    ),
                )
        else:
            _approve(order, case, "platform", actor.id, cents, None, note)
        _sync_order(order)
    record_audit(
        "after_sales.decide",
        area="platform",
        merchant_id=order.merchant_id,
        object_type="AfterSalesCase",
        object_id=case.id,
        changes={"decision": [None, case.decision], "note": [None, note]},
    )
    _tell_store(
        order,
        case,
        L_("The platform decided a dispute"),
        L_("Order %(number)s: the platform decided for the buyer. %(note)s", number=order.number, note=note)
        if for_buyer
        else L_("Order %(number)s: the platform decided for the store. %(note)s", number=order.number, note=note),
    )
    return case


# ---------------------------------------------------------------------------------------------
# Deadlines
# ---------------------------------------------------------------------------------------------


def _expire(order: Order, case: AfterSalesCase) -> None:
    """Apply the automatic outcome of a case whose step ran out of time (bound store, rows locked)."""
    if case.status == "requested":
        _approve(order, case, "system", None, None, None, str(_("The store did not answer in time.")))
    elif case.status == "approved":
        _close_late(
            order,
            case,
            "not_returned",
            L_("The goods of order %(number)s were not sent back in time.", number=order.number),
        )
    elif case.status == "returning":
        case.received_at, case.quality_passed = datetime.now(UTC), True
        _event(case, "system", "received", str(_("The store did not confirm receipt in time.")))
        _return_stock(case, None)
        _settle_returned(order, case, "system", None, None)
    elif case.status == "rejected":
        _close_late(
            order,
            case,
            "refused",
            L_("The request on order %(number)s was not taken to the platform in time.", number=order.number),
        )


def _close_late(order: Order, case: AfterSalesCase, outcome: str, body) -> None:
    """The buyer let a step run out (sending back, escalating): the case closes with ``outcome``."""
    _set(case, "closed", outcome=outcome)
    _event(case, "system", "closed", str(OUTCOME_LABELS[outcome]))
    _tell_buyer(order, case, L_("After-sales request closed"), body)


@platform_job(queue="default")
def run_due_cases(limit: int = 200) -> int:
    """Apply the automatic outcome of every case step past its deadline (periodic), one order per
    transaction. A step that cannot be applied (no stock for a replacement) waits a day and the
    store is told."""
    now = datetime.now(UTC)
    ids = list(
        db.session.scalars(select(Order.id).where(Order.case_due_at <= now).order_by(Order.case_due_at).limit(limit))
    )
    done = 0
    for order_id in ids:
        order = _locked_order(order_id)
        with tenant(order.merchant_id):
            due = list(
                db.session.scalars(
                    select(AfterSalesCase)
                    .where(
                        AfterSalesCase.order_id == order.id,
                        AfterSalesCase.status.in_(OPEN_CASE_STATUSES),
                        AfterSalesCase.due_at <= now,
                    )
                    .with_for_update()
                )
            )
            for case in due:
                try:
                    with db.session.begin_nested():
                        _expire(order, case)
                    done += 1
                except DomainError as error:
                    case = db.session.get(AfterSalesCase, case.id)
                    case.due_at = now + timedelta(days=1)
                    _tell_store(
                        order,
                        case,
                        L_("An after-sales step could not be completed"),
                        L_("Order %(number)s: %(error)s", number=order.number, error=error.message),
                    )
            _sync_order(order)
        db.session.commit()
    return done


# ---------------------------------------------------------------------------------------------
# What the pages need
# ---------------------------------------------------------------------------------------------


@dataclass
class LineOption:
    """One order line on the request form: how many units may still be in a request."""

    line: OrderLine
    for_refund: int  # refund only
    for_goods: int  # return and refund, exchange (only what was shipped)
    skus: list[tuple[int, str]]  # the product's specifications, for an exchange
    busy: bool  # a request on it is in progress


def request_options(order: Order) -> list[LineOption]:
    """The order's lines as the buyer's request form offers them."""
    with tenant(order.merchant_id):
        lines = list(db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)))
        claimed = _claimed(order.id)
        busy = set(
            db.session.scalars(
                select(AfterSalesLine.order_line_id)
                .join(AfterSalesCase, AfterSalesCase.id == AfterSalesLine.case_id)
                .where(AfterSalesCase.order_id == order.id, AfterSalesCase.status.in_(OPEN_CASE_STATUSES))
            )
        )
        products = {line.product_id for line in lines}
        skus: dict[int, list[tuple[int, str]]] = {}
        for sku in db.session.scalars(
            select(Sku).where(Sku.product_id.in_(products), Sku.is_active).order_by(Sku.position, Sku.id)
        ):
            skus.setdefault(sku.product_id, []).append((sku.id, spec_text(sku.spec_values) or str(_("Standard"))))
        options = [
            LineOption(
                line=line,
                for_refund=max(0, line.quantity - claimed.get(line.id, 0)),
                for_goods=max(0, line.shipped_quantity - claimed.get(line.id, 0)),
                skus=skus.get(line.product_id, []),
                busy=line.id in busy,
            )
            for line in lines
        ]
        for line in lines:
            db.session.expunge(line)
    return options


def can_request(order: Order) -> bool:
    return order.status in REQUESTABLE


def template_context() -> dict:
    """Labels the case pages of all three audiences use."""
    return {
        "kind_label": kind_label,
        "case_status_label": case_status_label,
        "case_kinds": KIND_LABELS,
        "case_reasons": REASONS,
        "case_actions": ACTION_LABELS,
        "case_actors": ACTOR_LABELS,
        "case_outcomes": OUTCOME_LABELS,
    }
