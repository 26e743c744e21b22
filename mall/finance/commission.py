"""Commission (P-07): which rate applies to an order line, frozen when the order is paid.

Priority, first match wins, each among the rules in effect at that moment:

1. a product rule for the line's product;
2. a merchant rule for the line's store (a negotiated rate or plan);
3. a category rule for the line's category or its nearest ancestor; then the rate set on the
   category itself (or its nearest ancestor) in the taxonomy;
4. a platform default rule; then ``PLATFORM_COMMISSION_BP``.

The commission of a line is its total times the rate, rounded half up to the cent, then raised to the
rule's minimum and lowered to its cap (never above the line's total). Rule changes never touch
lines already paid: ``freeze`` writes rate and amount on the line once.

``preview`` answers "what would this rule do?": it replays the lines paid in a recent period under
the rules in effect now and with the proposed rule added, store by store.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select

from mall.audit.services import record_audit
from mall.catalog.models import Category, PublicProduct
from mall.catalog.money import parse_yuan, percent_bp
from mall.catalog.taxonomy import ancestors_of, get_category, platform_commission_bp
from mall.dates import parse_moment
from mall.errors import DomainError, NotFound, PermissionDenied
from mall.extensions import db
from mall.finance.models import COMMISSION_SCOPES, CommissionRule
from mall.i18n import L_, _
from mall.identity.access import has_operator_permission
from mall.identity.models import User
from mall.ledger.allocation import proportional
from mall.merchants.models import Merchant
from mall.tenancy import tenant
from mall.trading.models import Order, OrderLine


class CommissionError(DomainError):
    pass


SCOPE_LABELS = {
    "product": L_("Product"),
    "merchant": L_("Store"),
    "category": L_("Category"),
    "default": L_("Platform default"),
}


@dataclass(frozen=True)
class Rate:
    """What applies to one line: the rate, the per-line bounds, and where it came from."""

    bp: int
    min_cents: int | None = None
    cap_cents: int | None = None
    source: str = "default"

    def commission(self, total_cents: int) -> int:
        cents = proportional(self.bp, 10_000, total_cents)
        if self.min_cents is not None:
            cents = max(cents, self.min_cents)
        if self.cap_cents is not None:
            cents = min(cents, self.cap_cents)
        return max(0, min(cents, total_cents))


def _in_effect(at: datetime):
    return and_(CommissionRule.starts_at <= at, or_(CommissionRule.ends_at.is_(None), CommissionRule.ends_at > at))


def _rate(rule: CommissionRule) -> Rate:
    return Rate(rule.rate_bp, rule.min_cents, rule.cap_cents, f"{rule.scope}:{rule.id}")


class Rules:
    """The rules in effect at one moment, loaded once for many lines (a payment, a preview)."""

    def __init__(self, at: datetime, extra: list[CommissionRule] = ()):
        rules = list(db.session.scalars(select(CommissionRule).where(_in_effect(at)).order_by(CommissionRule.id)))
        rules += [rule for rule in extra if rule.starts_at <= at and (rule.ends_at is None or rule.ends_at > at)]
        # the newest rule of a target wins over an older one in effect at the same time
        self.product = {r.product_id: r for r in rules if r.scope == "product"}
        self.merchant = {r.merchant_id: r for r in rules if r.scope == "merchant"}
        self.category = {r.category_id: r for r in rules if r.scope == "category"}
        self.default = next((r for r in reversed(rules) if r.scope == "default"), None)
        self._category_cache: dict[int, Rate] = {}

    def rate_for(self, merchant_id: int, product_id: int, category_id: int) -> Rate:
        if product_id in self.product:
            return _rate(self.product[product_id])
        if merchant_id in self.merchant:
            return _rate(self.merchant[merchant_id])
        return self._category_rate(category_id)

    def _category_rate(self, category_id: int) -> Rate:
        if category_id not in self._category_cache:
            self._category_cache[category_id] = self._resolve_category(category_id)
        return self._category_cache[category_id]

    def _resolve_category(self, category_id: int) -> Rate:
        try:
            ancestors = list(reversed(ancestors_of(get_category(category_id))))  # nearest first
        except NotFound:
            ancestors = []
        for category in ancestors:
            if category.id in self.category:
                return _rate(self.category[category.id])
        for category in ancestors:  # the rate set on the category in the taxonomy
            if category.commission_rate_bp is not None:
                return Rate(category.commission_rate_bp, source=f"category:{category.id}")
        if self.default is not None:
            return _rate(self.default)
        return Rate(platform_commission_bp(), source="platform")


def freeze(order: Order, at: datetime | None = None) -> int:
    """Fix each line's commission rate and amount for ``order`` (being paid now); returns the total."""
    rules = Rules(at or datetime.now(UTC))
    total = 0
    with tenant(order.merchant_id):
        for line in db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)):
            rate = rules.rate_for(order.merchant_id, line.product_id, line.category_id)
            line.commission_bp = rate.bp
            line.commission_cents = rate.commission(line.total_cents)
            total += line.commission_cents
        db.session.flush()
    return total


# ---------------------------------------------------------------------------------------------
# Managing rules
# ---------------------------------------------------------------------------------------------


def _parse_rate(text: str | None) -> int:
    """``"5"``, ``"5.5"``, ``"12.25"`` (per cent) → basis points."""
    bp = percent_bp(text)
    if bp is None:
        raise CommissionError(_("Give the rate in per cent, e.g. 5 or 5.5."), field="rate")
    if bp > 10_000:
        raise CommissionError(_("A rate is at most 100 %."), field="rate")
    return bp


@dataclass
class RuleForm:
    scope: str = ""
    target: str = ""  # product id, store slug or id, category id (by scope)
    rate: str = ""
    min_yuan: str = ""
    cap_yuan: str = ""
    starts_at: str = ""
    ends_at: str = ""
    note: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def build_rule(form: RuleForm) -> CommissionRule:
    """A rule (not added to the session) from the operator's form, or ``CommissionError``."""
    if form.scope not in COMMISSION_SCOPES:
        raise CommissionError(_("Choose what the rule applies to."), field="scope")
    rule = CommissionRule(scope=form.scope)
    target = (form.target or "").strip()
    if form.scope == "product":
        product = db.session.get(PublicProduct, int(target)) if target.isdigit() else None
        if product is None:
            raise CommissionError(_("No product has this id."), field="target")
        rule.product_id, rule.merchant_id = product.id, product.merchant_id
    elif form.scope == "merchant":
        merchant = db.session.scalar(
            select(Merchant).where(
                or_(Merchant.slug == target, Merchant.id == (int(target) if target.isdigit() else -1))
            )
        )
        if merchant is None:
            raise CommissionError(_("No store has this id or address."), field="target")
        rule.merchant_id = merchant.id
    elif form.scope == "category":
        category = db.session.get(Category, int(target)) if target.isdigit() else None
        if category is None:
            raise CommissionError(_("No category has this id."), field="target")
        rule.category_id = category.id
    rule.rate_bp = _parse_rate(form.rate)
    rule.min_cents = parse_yuan(form.min_yuan, field="min") if form.min_yuan.strip() else None
    rule.cap_cents = parse_yuan(form.cap_yuan, field="cap") if form.cap_yuan.strip() else None
    if rule.min_cents is not None and rule.cap_cents is not None and rule.cap_cents < rule.min_cents:
        raise CommissionError(_("The cap cannot be below the minimum."), field="cap")
    rule.starts_at = parse_moment(form.starts_at, field="starts_at")
    rule.ends_at = parse_moment(form.ends_at, field="ends_at", required=False)
    if rule.ends_at is not None and rule.ends_at <= rule.starts_at:
        raise CommissionError(_("The end must come after the start."), field="ends_at")
    rule.note = (form.note or "").strip()[:200] or None
    return rule


def add_rule(actor: User, form: RuleForm) -> CommissionRule:
    """Add a rule (audited). It applies to orders paid from its start on, never to earlier ones."""
    if not has_operator_permission(actor, "finance.manage"):
        raise PermissionDenied(_("You do not have permission to change commission rules."))
    rule = build_rule(form)
    rule.created_by_id = actor.id
    db.session.add(rule)
    db.session.flush()
    record_audit("commission_rule.add", area="platform", obj=rule, changes=_audit_values(rule))
    return rule


def end_rule(actor: User, rule_id: int, at: datetime | None = None) -> CommissionRule:
    """End a rule now (or at ``at``): lines already paid keep what they were charged."""
    if not has_operator_permission(actor, "finance.manage"):
        raise PermissionDenied(_("You do not have permission to change commission rules."))
    rule = db.session.get(CommissionRule, rule_id)
    if rule is None:
        raise NotFound(_("This rule does not exist."))
    at = at or datetime.now(UTC)
    if rule.ends_at is not None and rule.ends_at <= at:
        raise CommissionError(_("This rule has ended already."))
    before = rule.ends_at
    rule.ends_at = max(at, rule.starts_at + timedelta(seconds=1))
    record_audit("commission_rule.end", area="platform", obj=rule, changes={"ends_at": [before, rule.ends_at]})
    return rule


AUDITED = ("scope", "merchant_id", "product_id", "category_id", "rate_bp", "min_cents", "cap_cents", "starts_at")


def _audit_values(rule: CommissionRule) -> dict:
    return {name: [None, str(getattr(rule, name)) if getattr(rule, name) is not None else None] for name in AUDITED}


def rules_list(include_ended: bool = False) -> list[CommissionRule]:
    stmt = select(CommissionRule).order_by(CommissionRule.scope, CommissionRule.starts_at.desc(), CommissionRule.id)
    if not include_ended:
        stmt = stmt.where(or_(CommissionRule.ends_at.is_(None), CommissionRule.ends_at > datetime.now(UTC)))
    return list(db.session.scalars(stmt))


# ---------------------------------------------------------------------------------------------
# Preview
# ---------------------------------------------------------------------------------------------


@dataclass
class PreviewRow:
    merchant: Merchant
    lines: int = 0
    sales_cents: int = 0
    now_cents: int = 0
    proposed_cents: int = 0

    @property
    def change_cents(self) -> int:
        return self.proposed_cents - self.now_cents


def preview(form: RuleForm, days: int = 30) -> list[PreviewRow]:
    """What the proposed rule would have charged on the lines paid in the last ``days`` days (a
    stand-in for next month's), against the rules in effect now; only stores it changes."""
    now = datetime.now(UTC)
    proposed = build_rule(replace(form, starts_at=form.starts_at or now.isoformat()))
    proposed.starts_at, proposed.ends_at, proposed.id = now - timedelta(days=days + 1), None, 0
    current, changed = Rules(now), Rules(now, [proposed])
    rows: dict[int, PreviewRow] = {}
    orders = db.session.execute(
        select(Order.id, Order.merchant_id).where(Order.paid_at >= now - timedelta(days=days), Order.total_cents > 0)
    ).all()
    by_store: dict[int, list[int]] = {}
    for order_id, merchant_id in orders:
        by_store.setdefault(merchant_id, []).append(order_id)
    for merchant_id, order_ids in sorted(by_store.items()):
        with tenant(merchant_id):
            lines = db.session.execute(
                select(OrderLine.product_id, OrderLine.category_id, OrderLine.total_cents).where(
                    OrderLine.order_id.in_(order_ids)
                )
            ).all()
        row = PreviewRow(db.session.get(Merchant, merchant_id))
        for product_id, category_id, total in lines:
            row.lines += 1
            row.sales_cents += total
            row.now_cents += current.rate_for(merchant_id, product_id, category_id).commission(total)
            row.proposed_cents += changed.rate_for(merchant_id, product_id, category_id).commission(total)
        if row.change_cents:
            rows[merchant_id] = row
    return sorted(rows.values(), key=lambda r: -abs(r.change_cents))
