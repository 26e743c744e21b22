"""Batch import and export (M-04): CSV with BOM and XLSX; formula injection escaped; an exported file
imports back with no change; a good file updates SKUs (stock as ``import`` movements) and creates
draft products; a file with bad rows is reported row by row and writes nothing; limits; isolation."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from mall.audit.models import AuditEntry
from mall.catalog import transfer
from mall.catalog.inventory import movement_sum_matches
from mall.catalog.models import Product, Sku, StockMovement
from mall.extensions import db as _db
from mall.tenancy import tenant
from tests.catalog import stock_helpers
from tests.catalog.stock_helpers import count_movements, leaf_category, make_product, movements_of, stock_of

pytestmark = pytest.mark.usefixtures("english")  # these tests read English messages
make_shop = stock_helpers.make_shop
shop = stock_helpers.shop

HEADER = ",".join(transfer.COLUMNS)


def _csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode("utf-8")


def _import(merchant_id: int, actor, data: bytes, name: str = "goods.csv") -> transfer.ImportResult:
    with tenant(merchant_id):
        return transfer.import_file(actor, data, name)


def _problems(merchant_id: int, actor, data: bytes, name: str = "goods.csv") -> list[tuple]:
    with pytest.raises(transfer.ImportInvalid) as invalid:
        _import(merchant_id, actor, data, name)
    return [(e.row, e.column, e.message) for e in invalid.value.errors]


def _catalog(merchant_id: int) -> list[tuple]:
    """Everything an import may change, to compare before and after."""
    with tenant(merchant_id):
        return [
            tuple(row)
            for row in _db.session.execute(
                select(
                    Product.id, Product.title, Sku.spec_key, Sku.code, Sku.price_cents, Sku.market_price_cents,
                    Sku.stock, Sku.weight_grams, Sku.low_stock_threshold,
                ).join(Sku, Sku.product_id == Product.id).order_by(Sku.id)
            )
        ]  # fmt: skip


@pytest.fixture()
def goods(db, shop):
    """Two products: one with a colour matrix, codes, market prices, weights and thresholds; one whose
    title and code would run as spreadsheet formulas."""
    tea = make_product(
        shop.merchant.id, [("颜色:红", 5000, 10), ("颜色:蓝", 5500, 0)], title="龙井 Longjing", codes=True
    )
    risky = make_product(shop.merchant.id, [("", 990, 3)], title='=HYPERLINK("http://evil.test","x")')
    with tenant(shop.merchant.id):
        tea.skus[0].market_price_cents = 6000
        tea.skus[0].weight_grams = 250
        tea.skus[1].low_stock_threshold = 2
        risky.skus[0].code = "@SUM-1"
    _db.session.flush()
    return tea, risky


# --- export -------------------------------------------------------------------------------------


def test_csv_export_has_a_bom_every_sku_and_escapes_formulas(db, shop, goods):
    tea, _risky = goods
    with tenant(shop.merchant.id):
        data = transfer.export_csv()
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == list(transfer.COLUMNS)
    assert rows[1] == [str(tea.id), "龙井 Longjing", str(tea.category_id), "颜色:红", tea.skus[0].code,
                       "60.00", "50.00", "10", "250", "", "approved"]  # fmt: skip
    assert rows[3][1] == '\'=HYPERLINK("http://evil.test","x")' and rows[3][4] == "'@SUM-1"
    assert len(rows) == 4


def test_xlsx_export_writes_text_not_formulas(db, shop, goods):
    with tenant(shop.merchant.id):
        data = transfer.export_xlsx()
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == transfer.COLUMNS
    assert rows[1][6] == 50 and rows[1][3] == "颜色:红"
    risky = sheet.cell(row=4, column=2)
    assert risky.data_type == "s" and risky.value.startswith("'=HYPERLINK")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_exported_file_imports_back_with_no_change(db, shop, goods, fmt):
    before = _catalog(shop.merchant.id)
    moves = count_movements(shop.merchant.id)
    response = shop.get(f"/merchant/inventory/export.{fmt}")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    result = _import(shop.merchant.id, shop.owner, response.data, f"export.{fmt}")
    assert result.rows == 3 and not result.changed
    assert _catalog(shop.merchant.id) == before and count_movements(shop.merchant.id) == moves
    assert _db.session.scalar(select(func.count()).where(AuditEntry.action == "inventory.import")) == 0


# --- good imports -------------------------------------------------------------------------------


def test_a_good_file_updates_skus_and_creates_draft_products(db, shop, goods):
    tea, _risky = goods
    red, blue = tea.skus
    category = leaf_category()
    data = _csv(
        f"{tea.id},,,颜色:红,{red.code},60.00,59.90,20,250,,approved",  # price and stock
        f",,,,{blue.code},,55.00,,300,3,",  # found by its code; stock blank: unchanged
        f",茉莉花茶 Jasmine,{category.id},规格:50g,JAS-50,,19.90,7,50,,",
        f",茉莉花茶 Jasmine,{category.id},规格:100g,,,35,0,100,,",
    )
    result = _import(shop.merchant.id, shop.owner, data, "goods.csv")
    assert (result.updated_skus, result.stock_changes, result.created_products, result.created_skus) == (2, 2, 1, 2)
    with tenant(shop.merchant.id):
        red_row, blue_row = _db.session.get(Sku, red.id), _db.session.get(Sku, blue.id)
        assert (red_row.price_cents, red_row.stock, red_row.market_price_cents) == (5990, 20, 6000)
        assert (blue_row.stock, blue_row.weight_grams, blue_row.low_stock_threshold) == (0, 300, 3)
        jasmine = _db.session.scalars(select(Product).where(Product.title == "茉莉花茶 Jasmine")).one()
        assert jasmine.status == "draft" and jasmine.specs == [{"name": "规格", "values": ["50g", "100g"]}]
        skus = {s.spec_key: s for s in jasmine.skus}
        assert (skus["规格:50g"].code, skus["规格:50g"].price_cents, skus["规格:50g"].stock) == ("JAS-50", 1990, 7)
        assert (skus["规格:100g"].price_cents, skus["规格:100g"].stock) == (3500, 0)
        assert all(movement_sum_matches(s.id) for s in [red_row, blue_row, *jasmine.skus])
        import_move = _db.session.scalars(
            select(StockMovement).where(StockMovement.sku_id == red.id).order_by(StockMovement.id.desc())
        ).first()
    assert (import_move.reason, import_move.delta, import_move.ref, import_move.actor_id) == (
        "import", 10, "goods.csv", shop.owner.id,
    )  # fmt: skip
    assert movements_of(shop.merchant.id, skus["规格:50g"].id) == [("import", 7, 7)]


def test_two_skus_may_swap_codes_and_gb18030_files_are_read(db, shop):
    product = make_product(shop.merchant.id, [("颜色:红", 100, 1), ("颜色:蓝", 100, 1)], title="红茶", codes=True)
    red, blue = product.skus
    text = "\n".join(
        [
            HEADER,
            f"{product.id},红茶,,颜色:红,{blue.code},,1.00,,,,",
            f"{product.id},红茶,,颜色:蓝,{red.code},,1.00,,,,",
        ]
    )
    old = (red.code, blue.code)
    result = _import(shop.merchant.id, shop.owner, text.encode("gb18030"), "codes.csv")
    assert result.updated_skus == 2
    with tenant(shop.merchant.id):
        assert (_db.session.get(Sku, red.id).code, _db.session.get(Sku, blue.id).code) == old[::-1]


def test_xlsx_files_are_imported(db, shop):
    product = make_product(shop.merchant.id, [("", 1000, 4)], title="Cups")
    workbook = Workbook()
    workbook.active.append(list(transfer.COLUMNS))
    workbook.active.append([product.id, "Cups", None, None, None, None, 12.5, 9, None, None, "approved"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    _import(shop.merchant.id, shop.owner, buffer.getvalue(), "cups.xlsx")
    assert stock_of(shop.merchant.id, product.skus[0].id) == 9
    with tenant(shop.merchant.id):
        assert _db.session.get(Sku, product.skus[0].id).price_cents == 1250


# --- bad files ----------------------------------------------------------------------------------


def test_bad_rows_are_all_reported_and_nothing_is_written(db, shop, goods, make_shop):
    tea, _risky = goods
    red, _blue = tea.skus
    foreign = make_product(make_shop("Other", "other-store").merchant.id, [("", 100, 5)])
    category = leaf_category()
    before = _catalog(shop.merchant.id)
    moves = count_movements(shop.merchant.id)
    data = _csv(
        f"{tea.id},,,颜色:红,{red.code},,abc,-1,,,",  # row 2: bad price, bad stock
        f"{foreign.id},,,,,,1.00,1,,,",  # row 3: another store's product
        f"{tea.id},,,颜色:绿,,,1.00,1,,,",  # row 4: no such SKU
        f"{tea.id},Renamed,,颜色:蓝,{red.code},,1.00,1,,,",  # row 5: title change, code of another SKU
        f",New tea,{category.id},颜色:红|尺码:M,,,1.00,1,,,",  # rows 6-7: matrix incomplete
        f",New tea,{category.id},颜色:蓝|尺码:L,,,1.00,1,,,",
        ",Nowhere,999999,,,,1.00,1,,,",  # row 8: unknown category
        f"{tea.id},,,颜色:红,,,2.00,1,,,",  # row 9: the SKU of row 2 again
    )
    problems = _problems(shop.merchant.id, shop.owner, data)
    assert problems == [
        (2, "price", "Enter an amount in yuan with at most two decimals, e.g. 199.00."),
        (2, "stock", "Enter a whole number (0 or more)."),
        (3, "product_id", "Your store has no product with this id."),
        (4, "spec_key", "This product has no SKU “颜色:绿”: add SKUs in the product editor."),
        (5, "title", "Change the title of an existing product in the product editor."),
        (5, "sku_code", f"The code {red.code} is also on row 2."),
        (6, "spec_key", "Give a row for every combination of specs (2 missing, e.g. 颜色:红|尺码:L)."),
        (8, "category_id", "Choose an enabled category of the lowest level (its id)."),
        (9, "spec_key", "The same SKU is also on row 2."),
    ]
    assert _catalog(shop.merchant.id) == before and count_movements(shop.merchant.id) == moves


def test_the_import_page_shows_the_report_and_offers_it_as_csv(db, shop, goods, make_shop):
    tea, _risky = goods
    form = shop.get("/merchant/inventory/transfer").get_data(as_text=True)
    assert "/merchant/inventory/export.xlsx" in form and 'enctype="multipart/form-data"' in form
    before = _catalog(shop.merchant.id)
    data = _csv(f"{tea.id},,,颜色:红,,,1.999,,,,", f"{tea.id},,,颜色:蓝,,,1.00,5,,,")
    response = shop.post("/merchant/inventory/import", {"file": (io.BytesIO(data), "bad.csv")})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Problems in bad.csv" in page and "<td>price</td>" in page
    assert _catalog(shop.merchant.id) == before  # row 3 was fine, but nothing is written
    link = page[page.index("/merchant/inventory/import/report/") :].split('"')[0]
    report = shop.get(link)
    assert report.status_code == 200
    assert list(csv.reader(io.StringIO(report.data.decode("utf-8-sig")))) == [
        ["Row", "Column", "Problem"],
        ["2", "price", "Enter an amount in yuan with at most two decimals, e.g. 199.00."],
    ]
    assert make_shop("Other", "other-shop").get(link).status_code == 404  # the report belongs to its store
    assert shop.get("/merchant/inventory/import/report/unknown-token.csv").status_code == 404

    good = shop.post(
        "/merchant/inventory/import", {"file": (io.BytesIO(_csv(f"{tea.id},,,颜色:蓝,,,1.00,5,,,")), "ok.csv")}
    )
    assert good.status_code == 302
    assert stock_of(shop.merchant.id, tea.skus[1].id) == 5


@pytest.mark.parametrize(
    ("data", "name", "problem"),
    [
        (b"", "x.csv", (None, "", "The file is empty.")),
        (b"a,b\n", "x.txt", (None, "", "Upload a .csv or .xlsx file.")),
        (b"not a zip", "x.xlsx", (None, "", "The file is not a readable XLSX workbook.")),
        (
            b"x" * (5 * 1024 * 1024 + 1),
            "x.csv",
            (None, "", "The file is larger than 5 MB: split it into several files."),
        ),
        (HEADER.encode() + b"\n", "x.csv", (None, "", "The file has no rows to import.")),
        (
            _csv(*[",T,1,,,,1.00,,,," for _ in range(transfer.MAX_ROWS + 1)]),
            "x.csv",
            (transfer.MAX_ROWS + 2, "", "At most 5000 rows per file: split it into several files."),
        ),
    ],
)
def test_file_limits(db, shop, data, name, problem):
    assert _problems(shop.merchant.id, shop.owner, data, name) == [problem]


def test_a_missing_column_is_named(db, shop):
    data = b"product_id,title,spec_key,price\n1,x,,1.00\n"
    problems = _problems(shop.merchant.id, shop.owner, data)
    assert (1, "category_id", "This column is missing.") in problems and len(problems) == 6


def test_only_products_manage_may_import_or_export(app, db, make_user, shop):
    _user, clerk = stock_helpers.add_staff(app, db, make_user, shop.merchant, "orders")
    assert clerk.get("/merchant/inventory/export.xlsx").status_code == 403
    from tests.conftest import csrf_token

    token = csrf_token(clerk, "/merchant/")
    response = clerk.post(
        "/merchant/inventory/import", data={"file": (io.BytesIO(_csv()), "x.csv"), "csrf_token": token}
    )
    assert response.status_code == 403
