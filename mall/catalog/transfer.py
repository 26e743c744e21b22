"""Batch export and import of a store's products and SKUs as CSV or XLSX (M-04).

One row per SKU, with the columns of ``COLUMNS``. Export writes CSV as UTF-8 with a BOM (so Excel
opens Chinese text correctly) and XLSX with openpyxl; a text cell starting with ``= + - @`` (or a
tab / carriage return) gets a leading ``'`` so a spreadsheet never runs it as a formula (import
removes that quote again, so an exported file imports back unchanged).

Import reads the same columns (CSV in UTF-8, with or without BOM, or GB18030 as Excel saves it in
China; or XLSX) and works in two phases:

1. **Validate every row** — row number, column and a translated message per problem. If any row
   is wrong, ``ImportInvalid`` carries the whole report and *nothing* is written.
2. **Apply all rows in one transaction** — a row naming an existing SKU (by ``product_id`` +
   ``spec_key``, or by ``sku_code``) updates its prices, weight, code and threshold, and its stock
   through an ``import`` movement whose ref is the file name (blank stock: unchanged). Rows with
   no ``product_id`` and an unknown code create *draft* products: rows with the same title and
   category form one product whose ``spec_key`` values must cover its whole SKU matrix. Title,
   category and status of existing products are product content (changed in the editor, reviewed),
   so a different value there is reported, not applied; ``status`` is informational.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from decimal import Decimal

from sqlalchemy import select

from mall.audit.services import record_audit
from mall.catalog.import_rows import (
    COLUMNS,
    MAX_ROWS,
    REQUIRED_COLUMNS,
    TEXT_COLUMNS,
    ImportInvalid,
    ImportResult,
    RowError,
    apply_new_products,
    apply_updates,
    validate_table,
)
from mall.catalog.inventory import after_stock_change, check_low_stock
from mall.catalog.models import Product, Sku
from mall.catalog.money import format_yuan
from mall.catalog.publishing import sync_stock
from mall.exports import FORMULA_STARTS, csv_bytes, escape_cell, xlsx_bytes
from mall.extensions import db
from mall.i18n import _
from mall.tenancy import require_merchant_id

MAX_BYTES = 5 * 1024 * 1024
MAX_COLUMNS = 40
MAX_EXPANDED_BYTES = 100 * 1024 * 1024  # an XLSX is a zip: its unpacked size is limited too

# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------


def _unescape(text: str) -> str:
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text


def export_rows() -> Iterator[dict]:
    """Every SKU of the bound store's products (archived ones left out), product by product."""
    stmt = (
        select(Product, Sku)
        .join(Sku, Sku.product_id == Product.id)
        .where(Product.status != "archived")
        .order_by(Product.id, Sku.position, Sku.id)
        .execution_options(yield_per=500)
    )
    for product, sku in db.session.execute(stmt):
        yield {
            "product_id": product.id,
            "title": product.title,
            "category_id": product.category_id,
            "spec_key": sku.spec_key,
            "sku_code": sku.code or "",
            "market_price": sku.market_price_cents,
            "price": sku.price_cents,
            "stock": sku.stock,
            "weight_grams": sku.weight_grams,
            "low_stock_threshold": sku.low_stock_threshold,
            "status": product.status,
        }


def _text_row(row: dict) -> list[str]:
    values = []
    for column in COLUMNS:
        value = row[column]
        if column in ("market_price", "price"):
            value = format_yuan(value)
        values.append(escape_cell("" if value is None else str(value)))
    return values


def export_csv() -> bytes:
    """The store's SKUs as CSV, UTF-8 with BOM."""
    return csv_bytes(COLUMNS, (_text_row(row) for row in export_rows()))


def export_xlsx() -> bytes:
    """The store's SKUs as an XLSX workbook (prices as numbers with two decimals)."""

    def values(row: dict) -> list:
        return [
            Decimal(row[c]) / 100 if c in ("market_price", "price") and row[c] is not None else row[c] for c in COLUMNS
        ]

    return xlsx_bytes("skus", COLUMNS, (values(row) for row in export_rows()))


def error_report_csv(errors: list[RowError]) -> bytes:
    """The import's problems as a CSV (UTF-8 with BOM) the merchant can download."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_("Row"), _("Column"), _("Problem")])
    for error in errors:
        writer.writerow(["" if error.row is None else error.row, error.column, escape_cell(error.message)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Reading a file and importing it
# ---------------------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte sequence it is given in practice
        raise ImportInvalid([RowError(None, "", _("The file is not a readable CSV (UTF-8 or GB18030)."))])
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error:
        raise ImportInvalid([RowError(None, "", _("The file is not a readable CSV."))]) from None


def _xlsx_rows(data: bytes) -> Iterator[list[object]]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:  # refuse a "zip bomb" before parsing it
            expanded = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise ImportInvalid([RowError(None, "", _("The file is not a readable XLSX workbook."))]) from None
    if expanded > MAX_EXPANDED_BYTES:
        raise ImportInvalid([RowError(None, "", _("The file is larger than 5 MB: split it into several files."))])
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ImportInvalid([RowError(None, "", _("The file is not a readable XLSX workbook."))]) from None
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True):
            yield list(row)
    finally:
        workbook.close()


def read_table(data: bytes, file_name: str) -> list[tuple[int, dict[str, str]]]:
    """``(row number, {column: text})`` of every non-blank data row; file-level problems (size,
    type, header, too many rows) raise ``ImportInvalid`` at once."""
    if not data:
        raise ImportInvalid([RowError(None, "", _("The file is empty."))])
    if len(data) > MAX_BYTES:
        raise ImportInvalid([RowError(None, "", _("The file is larger than 5 MB: split it into several files."))])
    name = (file_name or "").lower()
    if name.endswith(".xlsx"):
        if not data.startswith(b"PK\x03\x04"):
            raise ImportInvalid([RowError(None, "", _("The file is not a readable XLSX workbook."))])
        rows = _xlsx_rows(data)
    elif name.endswith(".csv"):
        rows = _csv_rows(data)
    else:
        raise ImportInvalid([RowError(None, "", _("Upload a .csv or .xlsx file."))])
    header = [_cell_text(v).lstrip("\ufeff").strip().lower() for v in next(rows, [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    doubled = sorted({c for c in header if c and header.count(c) > 1})
    problems = [RowError(1, c, _("This column is missing.")) for c in missing]
    problems += [RowError(1, c, _("This column appears twice.")) for c in doubled]
    if problems:
        raise ImportInvalid(problems)
    positions = {c: header.index(c) for c in COLUMNS if c in header}
    table = []
    for number, values in enumerate(rows, start=2):
        cells = {c: _cell_text(values[i]) if i < len(values) else "" for c, i in positions.items()}
        if not any(cells.values()):
            if number > 4 * MAX_ROWS:  # a sheet of formatted but empty rows: stop reading
                break
            continue
        if len(table) == MAX_ROWS:
            raise ImportInvalid(
                [RowError(number, "", _("At most %(n)s rows per file: split it into several files.", n=MAX_ROWS))]
            )
        for column in TEXT_COLUMNS:
            cells[column] = _unescape(cells.get(column, ""))
        table.append((number, cells))
    if not table:
        raise ImportInvalid([RowError(None, "", _("The file has no rows to import."))])
    return table


def import_file(actor, data: bytes, file_name: str) -> ImportResult:
    """Import a CSV/XLSX file into the bound store: every row valid, then all applied in the caller's
    transaction; otherwise ``ImportInvalid`` and nothing written."""
    table = read_table(data, file_name)
    updates, groups = validate_table(table)
    ref = (file_name or "import")[-64:]
    result = ImportResult(file_name=file_name, rows=len(table))
    changes = apply_updates(actor, updates, ref, result)
    changes += apply_new_products(actor, groups, ref, result)
    result.stock_changes = len(changes)
    touched = sorted({row.sku.id for row in updates})
    after_stock_change(changes)
    if touched:
        sync_stock(touched)  # prices are part of the public copy
        check_low_stock(touched)
    if result.changed:
        record_audit(
            "inventory.import", area="merchant", merchant_id=require_merchant_id(), object_type="ImportFile",
            object_id=ref,
            changes={
                "rows": [None, result.rows], "updated_skus": [None, result.updated_skus],
                "stock_changes": [None, result.stock_changes], "created_products": [None, result.created_products],
            },
        )  # fmt: skip
    return result
