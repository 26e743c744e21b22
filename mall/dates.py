"""Reading the dates operators type into forms (rule periods, coupon periods)."""

from __future__ import annotations

from datetime import UTC, datetime

from mall.errors import DomainError
from mall.i18n import _


def parse_moment(text: str | None, *, field: str, required: bool = True) -> datetime | None:
    """``"2026-12-01"`` or ``"2026-12-01 08:00"`` (UTC unless it says otherwise); empty gives None
    unless ``required``. A ``DomainError`` on ``field`` otherwise."""
    value = (text or "").strip()
    if not value:
        if required:
            raise DomainError(_("Give a date."), field=field)
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DomainError(_("Give a date like 2026-12-01 or 2026-12-01 08:00."), field=field) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
