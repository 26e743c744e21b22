"""Mall search: Chinese and mixed queries, prefixes, exact facets, filters and sorts, relaxation,
suggestions while typing, store search, and the review gate (hidden products never found)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from mall.catalog.models import Brand, Category, CategoryAttribute, Product, PublicProduct, SearchTerm, Sku
from mall.catalog.money import format_price
from mall.catalog.money import parse_price as parse_yuan
from mall.catalog.publishing import reindex_public_catalog, resync_store, sync_public_product
from mall.catalog.search import search_products, search_stores, suggest
from mall.catalog.search_terms import TERM_KINDS, rebuild_search_terms
from mall.tenancy import tenant

EN = {"Accept-Language": "en"}
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Catalog:
    ids: dict[str, int]  # product key → id
    categories: dict[str, Category]
    brands: dict[str, Brand]
    stores: dict[str, object]

    def keys(self, items) -> set[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return {by_id[item.id] for item in items}


def _category(db, name, slug, parent=None):
    category = Category(
        name=name, slug=slug, parent_id=parent.id if parent else None, depth=parent.depth + 1 if parent else 0
    )
    db.session.add(category)
    db.session.flush()
    category.path = f"{parent.path if parent else '/'}{category.id}/"
    return category


# key: (store, title, category, brand, price in cents, sales, material)
PRODUCTS = {
    "cashmere_scarf": ("tea", "羊绒围巾", "scarves", "highland", 19900, 50, "羊绒"),
    "classic_scarf": ("tea", "Cashmere 围巾 经典款", "scarves", "highland", 29900, 10, "羊绒"),
    "silk_scarf": ("wool", "真丝围巾", "scarves", "lotus", 9900, 200, "真丝"),
    "wool_scarf": ("wool", "羊毛围巾", "scarves", "lotus", 5900, 5, "羊毛"),
    "cashmere_sweater": ("tea", "羊绒毛衣", "sweaters", "highland", 59900, 30, "羊绒"),
    "wool_sweater": ("wool", "羊毛毛衣", "sweaters", "lotus", 39900, 8, "羊毛"),
    "en_sweater": ("wool", "Cashmere sweater", "sweaters", None, 89900, 1, "羊绒"),
    "celadon_set": ("tea", "青瓷茶具", "tea_sets", None, 15900, 12, None),
    "white_cup": ("wool", "白瓷茶杯", "tea_sets", "lotus", 4900, 3, None),
    "clay_pot": ("tea", "紫砂茶壶", "tea_sets", "highland", 129900, 0, None),
}


def _product(db, category, brand, title, price, sales, attributes, *, approved_at=None, on_shelf=True):
    product = Product(
        title=title,
        slug="item",
        category_id=category.id,
        brand_id=brand.id if brand else None,
        status="approved" if approved_at else "submitted",
        on_shelf=on_shelf,
        approved_at=approved_at,
        sales_count=sales,
        attributes=attributes,
        skus=[Sku(spec_key="", price_cents=price, stock=5)],
    )
    db.session.add(product)
    db.session.flush()
    sync_public_product(product)
    return product


@pytest.fixture()
def catalog(db, make_merchant) -> Catalog:
    apparel = _category(db, "服饰", "apparel")
    home = _category(db, "家居", "home")
    gloves = _category(db, "手套", "gloves")
    categories = {
        "apparel": apparel,
        "home": home,
        "gloves": gloves,
        "scarves": _category(db, "围巾", "scarves", apparel),
        "sweaters": _category(db, "毛衣", "sweaters", apparel),
        "tea_sets": _category(db, "茶具", "tea-sets", home),
    }
    material = CategoryAttribute(category_id=apparel.id, name="材质", input="select", is_filterable=True)
    brands = {
        "highland": Brand(name="Highland", slug="highland"),
        "lotus": Brand(name="Lotus", slug="lotus"),
        "aurora": Brand(name="Aurora", slug="aurora"),
    }
    db.session.add_all([material, *brands.values()])
    db.session.flush()
    stores = {
        "tea": make_merchant("Tea House", slug="tea-house"),
        "wool": make_merchant("Wool Shop", slug="wool-shop"),
        "hidden": make_merchant("Hidden Shop", slug="hidden-shop"),
    }
    ids = {}
    for n, (key, (store, title, cat, brand, price, sales, stuff)) in enumerate(PRODUCTS.items()):
        with tenant(stores[store].id):
            product = _product(
                db,
                categories[cat],
                brands.get(brand),
                title,
                price,
                sales,
                {str(material.id): stuff} if stuff else {},
                approved_at=START + timedelta(days=n),
            )
        ids[key] = product.id
    scarves = categories["scarves"]
    with tenant(stores["tea"].id):  # the review gate: none of these may ever be found
        ids["draft"] = _product(db, scarves, None, "羊绒围巾 未审核", 100, 999, {}).id
        ids["off_shelf"] = _product(
            db, scarves, None, "羊绒围巾 已下架", 100, 999, {}, approved_at=START, on_shelf=False
        ).id
    with tenant(stores["hidden"].id):
        ids["suspended"] = _product(db, scarves, None, "羊绒围巾 停业店", 100, 999, {}, approved_at=START).id
    stores["hidden"].status = "suspended"
    resync_store(stores["hidden"].id)
    db.session.flush()
    return Catalog(ids, categories, brands, stores)


def facet_counts(facets) -> dict:
    return {f.label: f.count for f in facets}


def test_chinese_words_match_segmented_titles(catalog):
    assert catalog.keys(search_products("羊绒 围巾").items) == {"cashmere_scarf", "classic_scarf"}
    assert catalog.keys(search_products("羊绒围巾").items) == {"cashmere_scarf", "classic_scarf"}
    assert catalog.keys(search_products("围巾").items) == {
        "cashmere_scarf",
        "classic_scarf",
        "silk_scarf",
        "wool_scarf",
    }


def test_mixed_chinese_and_english_and_latin_prefixes(catalog):
    assert catalog.keys(search_products("cashmere 围巾").items) == {"classic_scarf"}
    assert catalog.keys(search_products("cashm").items) == {"classic_scarf", "en_sweater"}
    assert catalog.keys(search_products("CASHM").items) == {"classic_scarf", "en_sweater"}
    assert catalog.keys(search_products("highl 茶壶").items) == {"clay_pot"}  # brand by prefix


def test_hidden_products_are_never_found(catalog):
    hidden = {catalog.ids["draft"], catalog.ids["off_shelf"], catalog.ids["suspended"]}
    for query in ("羊绒围巾", "羊绒", "未审核", "已下架", "停业店", "", "hidden"):
        result = search_products(query, per_page=100)
        assert not hidden & {p.id for p in result.items}
        assert not hidden & {p.id for p in result.popular}
    assert search_products("未审核").relaxed == "suggestions"
    assert search_products("", merchant_id=catalog.stores["hidden"].id).total == 0
    assert search_products("", per_page=100).total == 10


def test_facet_counts_are_exact_and_leave_out_their_own_filter(catalog):
    result = search_products("围巾")
    assert result.total == 4 and type(result.total) is int and result.pages == 1
    assert facet_counts(result.brands) == {"Highland": 2, "Lotus": 2}
    assert facet_counts(result.categories) == {"服饰": 4}
    assert {(b.min_cents, b.max_cents): b.count for b in result.price_bands} == {
        (5000, 10000): 2,
        (10000, 20000): 1,
        (20000, 50000): 1,
    }
    assert facet_counts(result.attributes["材质"]) == {"羊绒": 2, "真丝": 1, "羊毛": 1}

    lotus = catalog.brands["lotus"].id
    narrowed = search_products("围巾", brand_ids=[lotus])
    assert catalog.keys(narrowed.items) == {"silk_scarf", "wool_scarf"}
    assert facet_counts(narrowed.brands) == {"Highland": 2, "Lotus": 2}  # other brands still offered
    assert [f.label for f in narrowed.brands if f.selected] == ["Lotus"]
    assert facet_counts(narrowed.attributes["材质"]) == {"真丝": 1, "羊毛": 1}
    assert {(b.min_cents, b.max_cents): b.count for b in narrowed.price_bands} == {(5000, 10000): 2}

    by_material = search_products("", attributes={"材质": ["羊绒"]})
    assert catalog.keys(by_material.items) == {"cashmere_scarf", "classic_scarf", "cashmere_sweater", "en_sweater"}
    assert facet_counts(by_material.attributes["材质"]) == {"羊绒": 4, "羊毛": 2, "真丝": 1}
    assert facet_counts(by_material.brands) == {"Highland": 3}
    both = search_products("", attributes={"材质": ["羊绒", "真丝"]})
    assert both.total == 5


def test_attribute_facets_wait_for_a_narrow_search(catalog, monkeypatch):
    monkeypatch.setattr("mall.catalog.search.ATTRIBUTE_FACET_MAX_MATCHES", 3)
    broad = search_products("围巾")
    assert broad.total == 4 and broad.attributes == {}  # four matches over the limit, no category chosen
    in_category = search_products("围巾", category_id=catalog.categories["apparel"].id)
    assert facet_counts(in_category.attributes["材质"]) == {"羊绒": 2, "真丝": 1, "羊毛": 1}
    few = search_products("围巾", brand_ids=[catalog.brands["lotus"].id])
    assert few.total == 2 and few.attributes == {}  # the limit counts the matches before the facet filters


def test_category_filter_covers_the_subtree_and_facets_the_next_level(catalog):
    apparel = search_products("", category_id=catalog.categories["apparel"].id)
    assert apparel.total == 7
    assert facet_counts(apparel.categories) == {"围巾": 4, "毛衣": 3}
    assert [c.name for c in apparel.breadcrumb] == ["服饰"]
    top = search_products("")
    assert facet_counts(top.categories) == {"服饰": 7, "家居": 3}
    sweaters = search_products("羊绒", category_id=catalog.categories["sweaters"].id)
    assert catalog.keys(sweaters.items) == {"cashmere_sweater", "en_sweater"}
    assert sweaters.categories == []  # a leaf has no next level
    assert [c.name for c in sweaters.breadcrumb] == ["服饰", "毛衣"]


def test_price_filter_and_sorts(catalog):
    ranged = search_products("", price_min=10000, price_max=30000)
    assert catalog.keys(ranged.items) == {"cashmere_scarf", "classic_scarf", "celadon_set"}
    assert facet_counts(ranged.brands) == {"Highland": 2}
    assert [p.price_min_cents for p in search_products("", sort="price_asc").items][:3] == [4900, 5900, 9900]
    assert search_products("", sort="price_desc").items[0].id == catalog.ids["clay_pot"]
    assert search_products("", sort="sales").items[0].id == catalog.ids["silk_scarf"]
    assert search_products("", sort="newest").items[0].id == catalog.ids["clay_pot"]  # approved last
    assert [p.id for p in search_products("", sort="newest", per_page=3, page=2).items] == [
        catalog.ids["en_sweater"],
        catalog.ids["wool_sweater"],
        catalog.ids["cashmere_sweater"],
    ]
    paged = search_products("", per_page=4, page=3)
    assert (paged.total, paged.pages, len(paged.items)) == (10, 3, 2)


def test_relevance_prefers_title_matches_then_sales(catalog):
    # "羊绒" is in both titles and (through the material) other products: title hits rank first.
    ranked = search_products("羊绒").items
    assert {ranked[0].id, ranked[1].id} == {catalog.ids["cashmere_scarf"], catalog.ids["cashmere_sweater"]}
    assert ranked[0].id == catalog.ids["cashmere_scarf"]  # more sales breaks the tie


def test_relaxation_any_word_then_suggestions(catalog):
    result = search_products("羊绒 茶具")
    assert result.relaxed == "any_word"
    assert catalog.keys(result.items) == {
        "cashmere_scarf",
        "classic_scarf",
        "cashmere_sweater",
        "en_sweater",
        "celadon_set",
        "white_cup",
        "clay_pot",
    }
    assert search_products("羊绒 围巾").relaxed is None

    gloves = search_products("手套")
    assert (gloves.relaxed, gloves.total, gloves.items) == ("suggestions", 0, [])
    assert [c.name for c in gloves.suggested_categories] == ["手套"]
    assert len(gloves.popular) == 8 and gloves.popular[0].id == catalog.ids["silk_scarf"]

    nonsense = search_products("xyzzy qwerty")
    assert nonsense.relaxed == "suggestions"
    assert [c.name for c in nonsense.suggested_categories] == ["服饰", "家居", "手套"]  # top level instead
    assert [b.name for b in search_products("auror zzz").suggested_brands] == ["Aurora"]  # a brand without products


def test_suggestions_while_typing(catalog):
    assert suggest("羊")[:2] == ["羊毛", "羊绒"] or suggest("羊")[:2] == ["羊绒", "羊毛"]
    assert "羊绒" in suggest("羊绒")
    assert suggest("cash") == ["cashmere"]
    assert suggest("CASH") == ["cashmere"]
    assert suggest("high") == ["highland"]
    assert suggest("tea") == ["tea house"]
    assert suggest("茶") == ["茶具", "茶壶", "茶杯"]  # the category (3 products) first
    assert suggest("") == [] and suggest("%") == []
    # Hidden products give no terms: 未审核, 已下架, the suspended store's name.
    assert suggest("未") == [] and suggest("已") == [] and suggest("hidden") == []


def test_term_weights_follow_visibility_and_match_a_rebuild(db, catalog):
    def weights():
        return {(t.term, t.kind): t.weight for t in db.session.scalars(select(SearchTerm))}

    assert weights()[("羊绒", "word")] == 2
    assert weights()[("服饰", "category")] == 7
    assert weights()[("highland", "brand")] == 4
    before = weights()
    rebuild_search_terms(TERM_KINDS)
    assert weights() == before

    with tenant(catalog.stores["tea"].id):
        product = db.session.get(Product, catalog.ids["cashmere_scarf"])
        product.on_shelf = False
        sync_public_product(product)
    assert weights()[("羊绒", "word")] == 1
    assert weights()[("tea house", "store")] == 4
    catalog.stores["wool"].status = "suspended"
    resync_store(catalog.stores["wool"].id)
    assert ("wool shop", "store") not in weights() and ("真丝", "word") not in weights()
    catalog.stores["wool"].status = "active"
    resync_store(catalog.stores["wool"].id)
    assert weights()[("wool shop", "store")] == 5
    after = weights()
    rebuild_search_terms(TERM_KINDS)
    assert weights() == after


def test_reindex_rewrites_search_text_with_current_names(db, catalog):
    catalog.brands["lotus"].name = "Lotus Garden"
    db.session.flush()
    assert search_products("garden").total == 0
    reindex_public_catalog()
    assert catalog.keys(search_products("garden").items) == {"silk_scarf", "wool_scarf", "wool_sweater", "white_cup"}
    assert suggest("lotus") == ["lotus garden"]
    assert db.session.get(PublicProduct, catalog.ids["draft"]) is None


def test_store_search_finds_open_stores_by_name_words(catalog):
    assert [hit.merchant.name for hit in search_stores("tea")] == ["Tea House"]
    assert [(hit.merchant.name, hit.product_count) for hit in search_stores("shop")] == [("Wool Shop", 5)]
    assert search_stores("hidden") == []
    assert search_stores("") == []


def test_money_helpers():
    assert (
        format_price(19900) == "¥199.00" and format_price(5) == "¥0.05" and format_price(123456789) == "¥1,234,567.89"
    )
    assert parse_yuan("199") == 19900 and parse_yuan("0.1") == 10 and parse_yuan("1.005") == 101
    assert parse_yuan("-1") is None and parse_yuan("abc") is None and parse_yuan("NaN") is None


# --- the consumer pages ------------------------------------------------------------------------------


def test_search_page_shows_results_facets_and_sorts(client, catalog):
    page = client.get("/search?q=羊绒+围巾", headers=EN).get_data(as_text=True)
    assert "羊绒围巾" in page and "¥199.00" in page and "Tea House" in page
    assert f'href="/p/{catalog.ids["cashmere_scarf"]}-item"' in page
    assert "2 products for “羊绒 围巾”" in page
    assert "未审核" not in page
    lotus = catalog.brands["lotus"].id
    page = client.get(f"/search?q=围巾&brand={lotus}", headers=EN).get_data(as_text=True)
    assert "真丝围巾" in page and "羊绒围巾" not in page
    assert 'aria-current="true" class="selected">Lotus</a>' in page
    assert f"brand={lotus}" not in page.split('class="selected">Lotus')[0].rsplit("href=", 1)[1]  # click removes it
    page = client.get("/search?q=&min=100&max=300&sort=price_asc", headers=EN).get_data(as_text=True)
    assert page.index("青瓷茶具") < page.index("羊绒围巾") < page.index("经典款")
    assert "紫砂茶壶" not in page
    page = client.get("/search?attr=材质:真丝", headers=EN).get_data(as_text=True)
    assert "真丝围巾" in page and "羊毛围巾" not in page


def test_search_page_relaxes_and_suggests(client, catalog):
    page = client.get("/search?q=羊绒+茶具", headers=EN).get_data(as_text=True)
    assert 'data-relaxed="any_word"' in page and "Showing products that match any of the words" in page
    assert "紫砂茶壶" in page
    page = client.get("/search?q=手套", headers=EN).get_data(as_text=True)
    assert 'data-relaxed="suggestions"' in page and "No products found for “手套”" in page
    assert f'href="/search?category={catalog.categories["gloves"].id}"' in page
    assert "Popular in the mall" in page and "真丝围巾" in page


def test_store_tab_and_suggest_endpoint(client, catalog):
    page = client.get("/search?type=stores&q=tea", headers=EN).get_data(as_text=True)
    assert "Tea House" in page and "/shop/tea-house/" in page and "Wool Shop" not in page
    page = client.get("/search?type=stores&q=hidden", headers=EN).get_data(as_text=True)
    assert "No store is named like" in page
    data = client.get("/search/suggest?q=羊").get_json()
    assert "羊绒" in data["suggestions"] and data["q"] == "羊"
    assert client.get("/search/suggest?q=").get_json()["suggestions"] == []
    assert client.get("/search?q=x&page=999999999999999999999").status_code == 200
    assert client.get("/search?category=abc&brand=x&min=oops").status_code == 200
