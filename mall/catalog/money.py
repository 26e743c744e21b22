"""Prices as people type and read them: yuan text ↔ integer cents, exactly (Decimal, never float).

- ``parse_yuan`` — a price entered in a form (editor, bulk edit, import): strict, raises a
  translated ``DomainError`` on the field.
- ``parse_price`` — a price typed into a shopper's filter: lenient, None when it is not a price (the
  filter is then ignored rather than failing the page).
- ``percent_bp`` — a rate typed in per cent (``"5.5"``, ``"12.25 %"``) → basis points, None when
  it is not one (the caller says what it expected).
- ``format_cents`` — ``123456`` → ``1,234.56``; ``format_yuan`` the same without grouping, for form
  values that must parse back; ``format_price`` with the ``¥`` sign.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from mall.errors import DomainError
from mall.i18n import _

MAX_PRICE_CENTS = 10_000_000_000  # ¥100,000,000.00: the most a form accepts
MAX_FILTER_CENTS = 10**12  # a filter beyond any price is still a filter
_YUAN = re.compile(r"^\d{1,9}(\.\d{1,2})?$")


def parse_yuan(text: object, *, field: str | None = None) -> int:
    """``"199"``, ``"199.5"``, ``"¥199.00"`` → cents, exactly."""
    value = str(text if text is not None else "").strip().lstrip("¥￥").strip()
    if not _YUAN.match(value):
        raise DomainError(_("Enter an amount in yuan with at most two decimals, e.g. 199.00."), field=field)
    cents = int(Decimal(value) * 100)  # the pattern guarantees a plain decimal number
    if cents > MAX_PRICE_CENTS:
        raise DomainError(_("This amount is too large."), field=field)
    return cents


_PERCENT = re.compile(r"^(\d{1,5})(?:\.(\d{1,2}))?$")


def percent_bp(text: str | None) -> int | None:
    """``"5"``, ``"5.5"``, ``"12.25%"`` → 500, 550, 1225 basis points; None when it is not a
    number of per cent with at most two decimals."""
    match = _PERCENT.match((text or "").strip().rstrip("%").strip())
    if match is None:
        return None
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def parse_price(text: str | None) -> int | None:
    """A price typed by a shopper ("199", "199.5", "¥1,299.00") in cents, rounded half up to the
    cent; None when it is not a non-negative price."""
    text = (text or "").strip().replace("¥", "").replace("￥", "").replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0 or value * 100 > MAX_FILTER_CENTS:
        return None
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_cents(cents: int | None, *, grouping: bool = True) -> str:
    """``123456`` → ``1,234.56`` (blank for none); integer arithmetic."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{whole:,}.{part:02d}" if grouping else f"{sign}{whole}.{part:02d}"


def format_yuan(cents: int | None) -> str:
    """Cents → ``"1234.00"`` for a form field (no grouping, so it parses back)."""
    return format_cents(cents, grouping=False)


def format_price(cents: int | None) -> str:
    """``1999`` → ``"¥19.99"`` (blank for none)."""
    return "" if cents is None else "¥" + format_cents(cents)
