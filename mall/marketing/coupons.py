"""Platform coupons (P-08, C-10): discounts the mall funds, applied once per checkout.

The operator sets a coupon up (an amount off or a percentage off with a cap, a minimum spend on the
goods, a period, how many uses in all and per buyer) and may stop it. The buyer picks a public
coupon or types a code on the checkout page; ``coupon_discount`` says what it takes off the goods
of the checkout and ``spread`` splits that over every store's lines to the cent (largest
remainder, never the whole price of a line: the buyer pays at least a cent of each, so a later
refund always knows what share of the coupon it takes back).

``redeem`` uses the coupon when the checkout is placed: the coupon row is locked, so concurrent
checkouts never exceed its quantity or a buyer's limit. When every order of the checkout ends
unpaid, ``release`` gives the use back. Money: the platform pays each order's share when the
order is paid (``platform:discount_expense``), the store is credited the full price, and a refund
takes the platform's share back in proportion (``mall.payments.services.refund_order``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select, update

from mall.audit.services import record_audit
from mall.catalog.money import format_cents, parse_yuan, percent_bp
from mall.dates import parse_moment
from mall.errors import DomainError, NotFound, PermissionDenied
from mall.extensions import db
from mall.i18n import _
from mall.identity.access import has_operator_permission
from mall.identity.models import User
from mall.ledger.allocation import allocate, proportional
from mall.marketing.models import CouponRedemption, PlatformCoupon

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,31}$")


class CouponError(DomainError):
    pass


def normal_code(text: str | None) -> str:
    return (text or "").strip().upper()


# ---------------------------------------------------------------------------------------------
# What a coupon takes off
# ---------------------------------------------------------------------------------------------


def coupon_discount(coupon: PlatformCoupon, goods_cents: int, line_count: int) -> int:
    """What ``coupon`` takes off goods of ``goods_cents`` in ``line_count`` lines: its amount or
    percentage (rounded half up, at most its cap), leaving the buyer at least a cent per line."""
    if coupon.kind == "amount":
        cents = coupon.amount_off_cents or 0
    else:
        cents = proportional(coupon.percent_bp or 0, 10_000, goods_cents)
        if coupon.max_discount_cents is not None:
            cents = min(cents, coupon.max_discount_cents)
    return max(0, min(cents, goods_cents - line_count))


def spread(discount_cents: int, line_totals: list[int]) -> list[int]:
    """Split a checkout's coupon over its lines in proportion to what each line has to give (its
    price less the cent the buyer always pays), to the cent; no share reaches a line's price."""
    return allocate(discount_cents, [max(0, total - 1) for total in line_totals])


def describe(coupon: PlatformCoupon) -> str:
    """ "¥20 off orders from ¥199", "10 % off (at most ¥50)": the coupon in a few words."""
    if coupon.kind == "amount":
        text = _("¥%(amount)s off", amount=format_cents(coupon.amount_off_cents))
    else:
        text = _("%(percent)s %% off", percent=_percent(coupon.percent_bp or 0))
        if coupon.max_discount_cents is not None:
            text += " " + _("(at most ¥%(amount)s)", amount=format_cents(coupon.max_discount_cents))
    if coupon.min_spend_cents:
        text += " · " + _("on goods from ¥%(amount)s", amount=format_cents(coupon.min_spend_cents))
    return text


def _percent(bp: int) -> str:
    whole, rest = divmod(bp, 100)
    return f"{whole}.{rest:02d}".rstrip("0").rstrip(".") if rest else str(whole)


# ---------------------------------------------------------------------------------------------
# Which coupons a buyer may use
# ---------------------------------------------------------------------------------------------


def _uses_by(coupon_ids: list[int], user_id: int) -> dict[int, int]:
    if not coupon_ids:
        return {}
    return dict(
        db.session.execute(
            select(CouponRedemption.coupon_id, func.count())
            .where(
                CouponRedemption.coupon_id.in_(coupon_ids),
                CouponRedemption.user_id == user_id,
                CouponRedemption.status == "used",
            )
            .group_by(CouponRedemption.coupon_id)
        ).all()
    )


def _refusal(coupon: PlatformCoupon, uses: int, goods_cents: int, line_count: int) -> CouponError | None:
    """Why this buyer (``uses`` of the coupon so far) may not use ``coupon`` on these goods now,
    or None: the rules of both the checkout's offers and a code typed or redeemed."""
    now = datetime.now(UTC)
    if coupon.disabled_at is not None or coupon.ends_at <= now:
        return CouponError(_("Coupon %(code)s has ended.", code=coupon.code), field="coupon")
    if coupon.starts_at > now:
        return CouponError(_("Coupon %(code)s cannot be used yet.", code=coupon.code), field="coupon")
    if uses >= coupon.per_user_limit:
        return CouponError(_("You have already used coupon %(code)s.", code=coupon.code), field="coupon")
    if coupon.total_quantity is not None and coupon.used_count >= coupon.total_quantity:
        return CouponError(_("Coupon %(code)s has been used up.", code=coupon.code), field="coupon")
    if goods_cents < coupon.min_spend_cents:
        return CouponError(
            _(
                "Coupon %(code)s needs goods of at least ¥%(amount)s.",
                code=coupon.code,
                amount=format_cents(coupon.min_spend_cents),
            ),
            field="coupon",
        )
    if coupon_discount(coupon, goods_cents, line_count) <= 0:
        return CouponError(_("Coupon %(code)s takes nothing off these goods.", code=coupon.code), field="coupon")
    return None


def check_usable(coupon: PlatformCoupon | None, user_id: int, goods_cents: int, line_count: int) -> int:
    """The discount ``coupon`` gives this buyer on these goods now, or ``CouponError`` saying why not."""
    if coupon is None:
        raise CouponError(_("There is no coupon with this code."), field="coupon")
    refusal = _refusal(coupon, _uses_by([coupon.id], user_id).get(coupon.id, 0), goods_cents, line_count)
    if refusal is not None:
        raise refusal
    return coupon_discount(coupon, goods_cents, line_count)


def find_coupon(code: str | None) -> PlatformCoupon | None:
    code = normal_code(code)
    return db.session.scalar(select(PlatformCoupon).where(PlatformCoupon.code == code)) if code else None


@dataclass
class Offer:
    coupon: PlatformCoupon
    discount_cents: int


def offers_for(user_id: int, goods_cents: int, line_count: int) -> list[Offer]:
    """The public coupons this buyer may use on these goods now, the biggest discount first (the
    query narrows them down, ``_refusal`` decides)."""
    now = datetime.now(UTC)
    coupons = list(
        db.session.scalars(
            select(PlatformCoupon)
            .where(
                PlatformCoupon.is_public,
                PlatformCoupon.disabled_at.is_(None),
                PlatformCoupon.starts_at <= now,
                PlatformCoupon.ends_at > now,
                PlatformCoupon.min_spend_cents <= goods_cents,
            )
            .order_by(PlatformCoupon.id)
        )
    )
    used = _uses_by([c.id for c in coupons], user_id)
    offers = [
        Offer(coupon, coupon_discount(coupon, goods_cents, line_count))
        for coupon in coupons
        if _refusal(coupon, used.get(coupon.id, 0), goods_cents, line_count) is None
    ]
    return sorted(offers, key=lambda o: -o.discount_cents)


# ---------------------------------------------------------------------------------------------
# Using and giving back
# ---------------------------------------------------------------------------------------------


def redeem(code: str, user_id: int, checkout_id: int, goods_cents: int, line_count: int) -> CouponRedemption:
    """Use the coupon ``code`` for a checkout being placed. The coupon row stays locked until the
    transaction ends, so concurrent checkouts are checked (quantity, the buyer's uses) one by one."""
    coupon = db.session.scalar(
        select(PlatformCoupon)
        .where(PlatformCoupon.code == normal_code(code))
        .with_for_update()
        .execution_options(populate_existing=True)  # the counts as they are now that the row is ours
    )
    discount = check_usable(coupon, user_id, goods_cents, line_count)
    coupon.used_count += 1
    redemption = CouponRedemption(
        coupon_id=coupon.id, user_id=user_id, checkout_id=checkout_id, discount_cents=discount
    )
    db.session.add(redemption)
    db.session.flush()
    return redemption


def release(checkout_id: int) -> bool:
    """Give a checkout's coupon use back (every order of it ended unpaid); True when there was one."""
    redemption = db.session.scalar(
        select(CouponRedemption)
        .where(CouponRedemption.checkout_id == checkout_id, CouponRedemption.status == "used")
        .with_for_update()
    )
    if redemption is None:
        return False
    db.session.execute(
        update(PlatformCoupon)
        .where(PlatformCoupon.id == redemption.coupon_id)
        .values(used_count=PlatformCoupon.used_count - 1)
    )
    redemption.status, redemption.released_at = "released", datetime.now(UTC)
    db.session.flush()
    return True


# ---------------------------------------------------------------------------------------------
# The operator's coupons
# ---------------------------------------------------------------------------------------------


@dataclass
class CouponForm:
    code: str = ""
    name: str = ""
    kind: str = "amount"
    amount_yuan: str = ""
    percent: str = ""
    max_yuan: str = ""
    min_spend_yuan: str = ""
    starts_at: str = ""
    ends_at: str = ""
    total_quantity: str = ""
    per_user_limit: str = "1"
    is_public: bool = True
    errors: dict[str, str] = field(default_factory=dict)


def _require(actor: User) -> None:
    if not has_operator_permission(actor, "marketing.manage"):
        raise PermissionDenied(_("You do not have permission to manage mall coupons."))


def _count(text: str, *, field: str, required: bool) -> int | None:
    value = (text or "").strip()
    if not value and not required:
        return None
    if not value.isdigit() or not 0 < int(value) <= 10_000_000:
        raise CouponError(_("Give a whole number greater than zero."), field=field)
    return int(value)


def _percent_bp(text: str) -> int:
    bp = percent_bp(text)
    if bp is None:
        raise CouponError(_("Give the percentage off, e.g. 10 or 12.5."), field="percent")
    if not 0 < bp < 10_000:
        raise CouponError(_("The percentage off must be more than 0 and less than 100."), field="percent")
    return bp


def build_coupon(form: CouponForm) -> PlatformCoupon:
    """A coupon (not added to the session) from the operator's form, or ``CouponError``."""
    code = normal_code(form.code)
    if not CODE_RE.match(code):
        raise CouponError(_("A code has 3 to 32 letters, digits, - or _."), field="code")
    if db.session.scalar(select(PlatformCoupon.id).where(PlatformCoupon.code == code)) is not None:
        raise CouponError(_("Another coupon has this code."), field="code")
    name = " ".join((form.name or "").split())
    if not 0 < len(name) <= 80:
        raise CouponError(_("Give the coupon a name of at most 80 characters."), field="name")
    coupon = PlatformCoupon(code=code, name=name, kind=form.kind, is_public=bool(form.is_public))
    if form.kind == "amount":
        coupon.amount_off_cents = parse_yuan(form.amount_yuan, field="amount_yuan")
        if coupon.amount_off_cents <= 0:
            raise CouponError(_("The amount off must be more than ¥0."), field="amount_yuan")
    elif form.kind == "percent":
        coupon.percent_bp = _percent_bp(form.percent)
        if (form.max_yuan or "").strip():
            coupon.max_discount_cents = parse_yuan(form.max_yuan, field="max_yuan")
            if coupon.max_discount_cents <= 0:
                raise CouponError(_("The most a coupon takes off must be more than ¥0."), field="max_yuan")
    else:
        raise CouponError(_("Choose an amount off or a percentage off."), field="kind")
    coupon.min_spend_cents = parse_yuan(form.min_spend_yuan or "0", field="min_spend_yuan")
    if coupon.kind == "amount" and coupon.min_spend_cents and coupon.min_spend_cents <= coupon.amount_off_cents:
        raise CouponError(_("The minimum spend must be more than the amount off."), field="min_spend_yuan")
    coupon.starts_at = parse_moment(form.starts_at, field="starts_at")
    coupon.ends_at = parse_moment(form.ends_at, field="ends_at")
    if coupon.ends_at <= coupon.starts_at:
        raise CouponError(_("The end must come after the start."), field="ends_at")
    coupon.total_quantity = _count(form.total_quantity, field="total_quantity", required=False)
    coupon.per_user_limit = _count(form.per_user_limit, field="per_user_limit", required=True)
    return coupon


AUDITED = ("code", "kind", "amount_off_cents", "percent_bp", "max_discount_cents", "min_spend_cents", "starts_at",
           "ends_at", "total_quantity", "per_user_limit", "is_public")  # fmt: skip


def _audit_value(value: object) -> str | None:
    return None if value is None else str(value)


def create_coupon(actor: User, form: CouponForm) -> PlatformCoupon:
    """Add a coupon (audited)."""
    _require(actor)
    coupon = build_coupon(form)
    coupon.created_by_id = actor.id
    db.session.add(coupon)
    db.session.flush()
    record_audit(
        "platform_coupon.add",
        area="platform",
        obj=coupon,
        changes={name: [None, _audit_value(getattr(coupon, name))] for name in AUDITED},
    )
    return coupon


def stop_coupon(actor: User, coupon_id: int) -> PlatformCoupon:
    """Stop a coupon now: no new checkout can use it; orders placed with it keep their discount."""
    _require(actor)
    coupon = db.session.get(PlatformCoupon, coupon_id)
    if coupon is None:
        raise NotFound(_("This coupon does not exist."))
    if coupon.disabled_at is not None:
        raise CouponError(_("This coupon is stopped already."))
    coupon.disabled_at = datetime.now(UTC)
    changes = {"disabled_at": [None, str(coupon.disabled_at)]}
    record_audit("platform_coupon.stop", area="platform", obj=coupon, changes=changes)
    return coupon


def coupons_list() -> list[tuple[PlatformCoupon, int]]:
    """Every coupon, the newest first, with what its uses have taken off so far (money the mall funds)."""
    spent = dict(
        db.session.execute(
            select(CouponRedemption.coupon_id, func.sum(CouponRedemption.discount_cents))
            .where(CouponRedemption.status == "used")
            .group_by(CouponRedemption.coupon_id)
        ).all()
    )
    coupons = db.session.scalars(select(PlatformCoupon).order_by(PlatformCoupon.id.desc()))
    return [(coupon, int(spent.get(coupon.id, 0))) for coupon in coupons]
