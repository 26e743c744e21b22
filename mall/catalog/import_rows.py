"""Import rows (see ``mall.catalog.transfer``): every row checked with its row number and column,
then all of them applied in the caller's transaction.

A row naming an existing SKU (by ``product_id`` + ``spec_key``, or by ``sku_code`` alone) updates its
prices, weight, code and threshold, and its stock through an ``import`` movement. Rows without a
``product_id`` and with an unknown code are new products: rows with the same title and category form
one product whose spec keys must cover its whole SKU matrix; they are checked by the product
editor's own rules and created as drafts through ``mall.catalog.products.create_product``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from mall.catalog.inventory import MAX_STOCK, StockChange, apply_stock_change, parse_count
from mall.catalog.models import Product, Sku
from mall.catalog.money import parse_yuan
from mall.catalog.product_input import (
    CODE_MAX,
    CODE_RE,
    MAX_SKUS,
    MAX_SPEC_VALUES,
    MAX_SPECS,
    MAX_WEIGHT_GRAMS,
    SPEC_FORBIDDEN,
    SPEC_NAME_MAX,
    SPEC_VALUE_MAX,
    TITLE_MAX,
    ProductInvalid,
    clean_product_input,
    sku_matrix,
)
from mall.catalog.products import create_product
from mall.catalog.taxonomy import category_is_selectable
from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import _, ngettext

COLUMNS = (
    "product_id",
    "title",
    "category_id",
    "spec_key",
    "sku_code",
    "market_price",
    "price",
    "stock",
    "weight_grams",
    "low_stock_threshold",
    "status",
)
REQUIRED_COLUMNS = COLUMNS[:-1]  # status is informational
MAX_ROWS = 5000
TEXT_COLUMNS = ("title", "spec_key", "sku_code")


@dataclass(frozen=True)
class RowError:
    row: int | None  # the spreadsheet's row number (the header is row 1); None: the whole file
    column: str
    message: str


class ImportInvalid(DomainError):
    """The file cannot be imported; ``errors`` lists every problem found. Nothing was written."""

    def __init__(self, errors: list[RowError]):
        super().__init__(
            ngettext(
                "The file has %(num)d problem: nothing was imported.",
                "The file has %(num)d problems: nothing was imported.",
                len(errors),
            )
        )
        self.errors = errors


@dataclass
class ImportResult:
    file_name: str
    rows: int = 0
    updated_skus: int = 0
    stock_changes: int = 0
    created_products: int = 0
    created_skus: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.updated_skus or self.stock_changes or self.created_products)


# ---------------------------------------------------------------------------------------------
# Validating rows
# ---------------------------------------------------------------------------------------------


@dataclass
class _Row:
    number: int
    cells: dict[str, str]
    sku: Sku | None = None  # the existing SKU this row updates
    values: dict = field(default_factory=dict)  # cleaned: price_cents, market_price_cents, stock, …
    spec_pairs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def spec_key(self) -> str:
        return "|".join(f"{name}:{value}" for name, value in self.spec_pairs)


@dataclass
class _NewProduct:
    rows: list[_Row]
    raw: dict  # the product editor's values (``clean_product_input`` shape)
    positions: list[int]  # each row's cell in the product's SKU matrix


class _Report:
    def __init__(self) -> None:
        self.errors: list[RowError] = []

    def add(self, row: _Row | int | None, column: str, message: str) -> None:
        number = row.number if isinstance(row, _Row) else row
        self.errors.append(RowError(number, column, message))


def parse_spec_key(text: str) -> list[tuple[str, str]] | None:
    """``"颜色:红|尺码:M"`` → pairs; ``""`` → ``[]``; None when malformed."""
    if not text:
        return []
    pairs = []
    for part in text.split("|"):
        name, sep, value = part.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value or any(ch in value for ch in SPEC_FORBIDDEN):
            return None
        pairs.append((name, value))
    return pairs


def _clean_values(row: _Row, report: _Report, *, new: bool) -> None:
    """Prices, stock, weight, threshold and code of one row (for an existing or a new SKU)."""
    cells, values = row.cells, row.values
    try:
        values["price_cents"] = parse_yuan(cells.get("price"))
        if values["price_cents"] < 1:
            report.add(row, "price", _("The sale price must be at least 0.01."))
    except DomainError as error:
        report.add(row, "price", error.message if cells.get("price") else _("Give the sale price."))
    values["market_price_cents"] = None
    if cells.get("market_price"):
        try:
            values["market_price_cents"] = parse_yuan(cells["market_price"])
        except DomainError as error:
            report.add(row, "market_price", error.message)
        else:
            if values["market_price_cents"] < values.get("price_cents", 0):
                report.add(row, "market_price", _("The market price cannot be lower than the sale price."))
    for column, maximum in (
        ("stock", MAX_STOCK),
        ("weight_grams", MAX_WEIGHT_GRAMS),
        ("low_stock_threshold", MAX_STOCK),
    ):
        values[column] = None
        if cells.get(column):
            try:
                values[column] = parse_count(cells[column], maximum=maximum)
            except DomainError as error:
                report.add(row, column, error.message)
    if new and values["stock"] is None:
        values["stock"] = 0
    code = cells.get("sku_code") or None
    unchanged = row.sku is not None and row.sku.code == code  # codes from before today's rules stay valid
    if code and not unchanged and (len(code) > CODE_MAX or not CODE_RE.match(code)):
        report.add(row, "sku_code", _("Codes use letters, digits, “-”, “_”, “.” and “/” (at most %(n)s).", n=CODE_MAX))
    values["code"] = code


def _existing(rows: list[_Row], report: _Report) -> tuple[dict[int, Product], dict[str, Sku]]:
    """The store's products named by id and SKUs named by code in the file (one query each)."""
    product_ids = set()
    for row in rows:
        text = row.cells.get("product_id", "")
        if text:
            if text.isdigit() and 0 < int(text) < 2**63:
                product_ids.add(int(text))
            else:
                report.add(row, "product_id", _("Enter a product id (digits) or leave it blank for a new product."))
    products = {
        p.id: p
        for p in db.session.scalars(
            select(Product).where(Product.id.in_(product_ids)).options(selectinload(Product.skus))
        )
    }
    codes = {row.cells["sku_code"] for row in rows if row.cells.get("sku_code")}
    skus = (
        db.session.scalars(select(Sku).where(or_(Sku.product_id.in_(product_ids), Sku.code.in_(codes)))).all()
        if product_ids or codes
        else []
    )
    by_code = {sku.code: sku for sku in skus if sku.code}
    return products, by_code


def _match_existing(row: _Row, products: dict[int, Product], by_code: dict[str, Sku], report: _Report) -> bool:
    """Find the SKU a row updates; False when the row is (possibly) a new product."""
    cells = row.cells
    product = None
    if cells.get("product_id", "").isdigit():
        product = products.get(int(cells["product_id"]))
        if product is None:
            report.add(row, "product_id", _("Your store has no product with this id."))
            return True
    coded = by_code.get(cells.get("sku_code") or "")
    if product is None and coded is None:
        return False
    if product is None:
        product = coded.product
    if product.status == "archived":
        report.add(row, "product_id", _("This product is archived: it cannot be imported."))
        return True
    if not cells.get("product_id"):  # found by its code alone
        if cells.get("spec_key") and cells["spec_key"] != coded.spec_key:
            report.add(row, "spec_key", _("The SKU with this code has the specs “%(key)s”.", key=coded.spec_key))
            return True
        sku = coded
    else:
        sku = next((s for s in product.skus if s.spec_key == cells.get("spec_key", "")), None)
    if sku is None:
        report.add(
            row, "spec_key",
            _("This product has no SKU “%(key)s”: add SKUs in the product editor.", key=cells.get("spec_key", "")),
        )  # fmt: skip
        return True
    row.sku = sku
    if cells.get("title") and cells["title"] != product.title:
        report.add(row, "title", _("Change the title of an existing product in the product editor."))
    if cells.get("category_id") and cells["category_id"] != str(product.category_id):
        report.add(row, "category_id", _("Change the category of an existing product in the product editor."))
    return True


def _new_product_groups(rows: list[_Row], report: _Report) -> list[list[_Row]]:
    """Rows of new products grouped by (title, category), each group checked as one SKU matrix."""
    groups: dict[tuple[str, str], list[_Row]] = {}
    selectable: dict[str, bool] = {}
    for row in rows:
        title = row.cells.get("title", "")
        if not title:
            report.add(row, "title", _("Give the title of the new product (or the id of an existing one)."))
            continue
        if len(title) > TITLE_MAX:
            report.add(row, "title", _("At most %(max)s characters (now %(n)s).", max=TITLE_MAX, n=len(title)))
        category = row.cells.get("category_id", "")
        if category not in selectable:
            selectable[category] = category.isdigit() and category_is_selectable(int(category))
        if not selectable[category]:
            report.add(row, "category_id", _("Choose an enabled category of the lowest level (its id)."))
        groups.setdefault((title, category), []).append(row)
    for group in groups.values():
        _check_matrix(group, report)
    return list(groups.values())


def _check_matrix(group: list[_Row], report: _Report) -> None:
    """The group's spec keys: well formed, the same axes in the same order, every combination once."""
    names: list[str] | None = None
    for row in group:
        pairs = parse_spec_key(row.cells.get("spec_key", ""))
        if pairs is None:
            report.add(row, "spec_key", _("Write specs as name:value pairs joined by “|”, e.g. 颜色:红|尺码:M."))
            return
        if any(len(n) > SPEC_NAME_MAX or len(v) > SPEC_VALUE_MAX for n, v in pairs) or len(pairs) > MAX_SPECS:
            report.add(row, "spec_key", _("At most %(n)s specs, with short names and values.", n=MAX_SPECS))
            return
        row_names = [name for name, _value in pairs]
        if len(set(row_names)) != len(row_names):
            report.add(row, "spec_key", _("A spec appears twice in this key."))
            return
        if names is None:
            names = row_names
        elif row_names != names:
            report.add(row, "spec_key", _("Every row of a product must name the same specs in the same order."))
            return
        row.spec_pairs = pairs
    axes = [list(dict.fromkeys(row.spec_pairs[i][1] for row in group)) for i in range(len(names or []))]
    if any(len(values) > MAX_SPEC_VALUES for values in axes):
        report.add(group[0], "spec_key", _("At most %(n)s values per spec.", n=MAX_SPEC_VALUES))
        return
    seen: dict[tuple, int] = {}
    for row in group:
        key = tuple(row.spec_pairs)
        if key in seen:
            report.add(row, "spec_key", _("The same SKU is also on row %(row)s.", row=seen[key]))
        seen.setdefault(key, row.number)
    combinations = list(itertools.product(*axes))
    if len(combinations) > MAX_SKUS:
        report.add(group[0], "spec_key", _("At most %(n)s SKUs per product.", n=MAX_SKUS))
        return
    missing = [c for c in combinations if tuple(zip(names or [], c, strict=True)) not in seen]
    if missing:
        example = "|".join(f"{n}:{v}" for n, v in zip(names or [], missing[0], strict=True))
        report.add(
            group[0], "spec_key",
            _("Give a row for every combination of specs (%(n)s missing, e.g. %(key)s).", n=len(missing), key=example),
        )  # fmt: skip


def _check_codes(rows: list[_Row], report: _Report) -> None:
    """A code names one SKU: not twice in the file, not held by a SKU the file does not re-code."""
    seen: dict[str, int] = {}
    for row in rows:
        code = row.values.get("code")
        if code and code in seen:
            report.add(row, "sku_code", _("The code %(code)s is also on row %(row)s.", code=code, row=seen[code]))
        elif code:
            seen[code] = row.number
    if not seen:
        return
    recoded = {row.sku.id for row in rows if row.sku is not None}
    for holder in db.session.scalars(select(Sku).where(Sku.code.in_(list(seen)))):
        if holder.id not in recoded:
            row_number = seen[holder.code]
            report.add(
                row_number, "sku_code",
                _("The code %(code)s is already used by another SKU of your store.", code=holder.code),
            )  # fmt: skip


def _check_targets(rows: list[_Row], report: _Report) -> None:
    seen: dict[int, int] = {}
    for row in rows:
        if row.sku is None:
            continue
        if row.sku.id in seen:
            report.add(row, "spec_key", _("The same SKU is also on row %(row)s.", row=seen[row.sku.id]))
        seen.setdefault(row.sku.id, row.number)


_EDITOR_SKU_COLUMNS = {
    "price": "price",
    "market_price": "market_price",
    "code": "sku_code",
    "weight": "weight_grams",
    "low_stock_threshold": "low_stock_threshold",
    "stock": "stock",
}


def _editor_raw(rows: list[_Row]) -> tuple[dict, list[int]]:
    """The product editor's values for a group of new-product rows, and each row's matrix cell."""
    names = [name for name, _value in rows[0].spec_pairs]
    axes = [{"name": n, "values": list(dict.fromkeys(dict(r.spec_pairs)[n] for r in rows))} for n in names]
    keys = [key for key, _values in sku_matrix(axes)]
    skus = {
        row.spec_key: {
            "price": row.cells.get("price", ""),
            "market_price": row.cells.get("market_price", ""),
            "code": row.cells.get("sku_code", ""),
            "weight": row.cells.get("weight_grams", ""),
            "low_stock_threshold": row.cells.get("low_stock_threshold", ""),
        }
        for row in rows
    }
    raw = {"title": rows[0].cells["title"], "category_id": rows[0].cells["category_id"], "specs": axes, "skus": skus}
    return raw, [keys.index(row.spec_key) if row.spec_key in keys else 0 for row in rows]


def _locate(key: str, rows: list[_Row], positions: list[int]) -> tuple[_Row, str]:
    """Which row and column an editor field error belongs to."""
    match = re.match(r"^sku-(\d+)-(\w+)$", key)
    if match:
        index, name = int(match.group(1)), match.group(2)
        row = next((r for r, p in zip(rows, positions, strict=True) if p == index), rows[0])
        return row, _EDITOR_SKU_COLUMNS.get(name, "")
    if key in ("title", "subtitle", "slug"):
        return rows[0], "title"
    if key.startswith(("category", "attr-", "brand", "tag", "store_category")):
        return rows[0], "category_id"
    if key.startswith("spec"):
        return rows[0], "spec_key"
    return rows[0], ""


def _check_with_editor(groups: list[list[_Row]], report: _Report) -> list[_NewProduct]:
    """Groups that passed the row checks are checked by the product editor's own rules too."""
    failed = {error.row for error in report.errors}
    products = []
    for rows in groups:
        raw, positions = _editor_raw(rows)
        if not failed.intersection(row.number for row in rows):
            try:
                clean_product_input(raw)
            except ProductInvalid as invalid:
                for key, message in invalid.errors.items():
                    report.add(*_locate(key, rows, positions), message)
        products.append(_NewProduct(rows, raw, positions))
    return products


def validate_table(table: list[tuple[int, dict[str, str]]]) -> tuple[list[_Row], list[_NewProduct]]:
    """Every row checked; returns (updates of existing SKUs, groups of new products) or raises
    ``ImportInvalid`` with all problems."""
    report = _Report()
    rows = [_Row(number, cells) for number, cells in table]
    products, by_code = _existing(rows, report)
    updates, fresh = [], []
    for row in rows:
        if _match_existing(row, products, by_code, report):
            if row.sku is not None:
                updates.append(row)
        else:
            fresh.append(row)
    for row in rows:
        _clean_values(row, report, new=row.sku is None)
    groups = _new_product_groups(fresh, report)
    _check_targets(updates, report)
    _check_codes(rows, report)
    new_products = _check_with_editor(groups, report)
    if report.errors:
        raise ImportInvalid(
            sorted(report.errors, key=lambda e: (e.row or 0, COLUMNS.index(e.column) if e.column in COLUMNS else -1))
        )
    return updates, new_products


# ---------------------------------------------------------------------------------------------
# Applying
# ---------------------------------------------------------------------------------------------

_FIELDS = ("price_cents", "market_price_cents", "weight_grams", "low_stock_threshold", "code")


def apply_updates(actor, updates: list[_Row], ref: str, result: ImportResult) -> list[StockChange]:
    ids = sorted(row.sku.id for row in updates)
    locked = {
        s.id: s for s in db.session.scalars(select(Sku).where(Sku.id.in_(ids)).order_by(Sku.id).with_for_update())
    }
    recoding = [row for row in updates if row.sku.code != row.values["code"] and row.sku.code is not None]
    for row in recoding:  # free old codes first, so two SKUs may swap codes in one file
        locked[row.sku.id].code = None
    db.session.flush()
    changes = []
    for row in sorted(updates, key=lambda r: r.sku.id):
        sku = locked[row.sku.id]
        changed = False
        for name in _FIELDS:
            value = row.values[name]
            if getattr(sku, name) != value:
                setattr(sku, name, value)
                changed = True
        target = row.values["stock"]
        if target is not None and target != sku.stock:
            db.session.flush()
            changes.append(apply_stock_change(sku.id, target - sku.stock, "import", actor_id=actor.id, ref=ref))
            changed = True
        if changed:
            result.updated_skus += 1
    db.session.flush()
    return changes


def apply_new_products(actor, groups: list[_NewProduct], ref: str, result: ImportResult) -> list[StockChange]:
    """Each group becomes a draft through the product editor's own ``create_product`` (so imported
    products obey the editor's rules); their stock then arrives as ``import`` movements."""
    changes = []
    for group in groups:
        product = create_product(actor, group.raw)
        skus = {sku.spec_key: sku for sku in product.skus}
        result.created_products += 1
        result.created_skus += len(product.skus)
        for index, row in enumerate(group.rows):
            sku = skus.get(row.spec_key) or product.skus[group.positions[index]]
            if row.values["stock"]:
                changes.append(apply_stock_change(sku.id, row.values["stock"], "import", actor_id=actor.id, ref=ref))
    return changes
