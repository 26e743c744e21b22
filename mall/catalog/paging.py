"""One page of a long list: mall listings, favourites, the merchant centre's and the operator's lists."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, func, select

from mall.extensions import db


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int
    extra: dict = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paged(stmt: Select, page: int, per_page: int) -> Page:
    """Rows of ``stmt`` (as tuples) for page ``page`` (1-based), with the total count."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    page = max(1, page)
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return Page([tuple(row) for row in rows], page, per_page, total)
