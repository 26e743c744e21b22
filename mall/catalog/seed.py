"""A standard taxonomy for a Chinese mall: categories (three levels under nine top categories) with
commission rates, attribute and spec templates, brands, tags and a default home page.

``seed_taxonomy()`` is idempotent: categories, brands and tags are found by slug, templates by
category and name, and the default home blocks are added only while the home page has none. What
an operator changed since (names, rates, disabled categories) is left alone. It returns slug → id
lookups for data generators (demo, benchmark). Names are Chinese, slugs English. The brands are
invented for demonstration.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from mall.catalog.brands import derived_initial
from mall.catalog.home import DEFAULT_LIMITS
from mall.catalog.models import Brand, Category, CategoryAttribute, CategorySpec, HomeBlock, Tag
from mall.catalog.taxonomy import taxonomy_edited
from mall.extensions import db

# (name, slug, commission in basis points or None = inherit, children)
CATEGORIES: list[tuple[str, str, int | None, list]] = [
    ("服饰鞋包", "apparel", 800, [
        ("女装", "womens-clothing", None, [
            ("连衣裙", "dresses", None, []), ("T恤", "womens-t-shirts", None, []),
            ("毛衣针织", "womens-knitwear", None, []), ("外套", "womens-coats", None, []),
        ]),
        ("男装", "mens-clothing", None, [
            ("衬衫", "mens-shirts", None, []), ("夹克", "mens-jackets", None, []),
            ("休闲裤", "mens-trousers", None, []),
        ]),
        ("鞋靴", "shoes", None, [("运动鞋", "sneakers", None, []), ("皮鞋", "leather-shoes", None, [])]),
        ("箱包", "bags", None, [("双肩包", "backpacks", None, []), ("手提包", "handbags", None, [])]),
        ("服饰配件", "fashion-accessories", None, [("围巾", "scarves", None, []), ("帽子", "hats", None, [])]),
    ]),
    ("数码家电", "electronics", 300, [
        ("手机通讯", "phones", 200, [
            ("智能手机", "smartphones", None, []), ("手机壳膜", "phone-cases", 800, []),
            ("充电器", "chargers", 600, []),
        ]),
        ("电脑办公", "computers", None, [
            ("笔记本电脑", "laptops", None, []), ("平板电脑", "tablets", None, []),
            ("键盘鼠标", "keyboards-mice", 500, []),
        ]),
        ("大家电", "home-appliances", None, [
            ("冰箱", "refrigerators", None, []), ("洗衣机", "washing-machines", None, []),
            ("空调", "air-conditioners", None, []),
        ]),
        ("影音娱乐", "audio-video", None, [("耳机", "headphones", None, []), ("音箱", "speakers", None, [])]),
    ]),
    ("食品生鲜", "food", 500, [
        ("茶叶", "tea", None, [
            ("绿茶", "green-tea", None, []), ("红茶", "black-tea", None, []),
            ("乌龙茶", "oolong-tea", None, []), ("普洱茶", "pu-erh-tea", None, []),
        ]),
        ("休闲零食", "snacks", None, [("坚果炒货", "nuts", None, []), ("饼干糕点", "biscuits", None, [])]),
        ("生鲜果蔬", "fresh", 300, [("水果", "fruit", None, []), ("海鲜水产", "seafood", None, [])]),
        ("酒水饮料", "drinks", None, [
            ("白酒", "baijiu", None, []), ("葡萄酒", "wine", None, []), ("咖啡", "coffee", None, []),
        ]),
    ]),
    ("美妆个护", "beauty", 1000, [
        ("面部护肤", "skincare", None, [
            ("面霜", "face-creams", None, []), ("精华", "serums", None, []), ("面膜", "face-masks", None, []),
        ]),
        ("彩妆", "makeup", None, [("口红", "lipsticks", None, []), ("粉底", "foundations", None, [])]),
        ("洗发护发", "hair-care", None, [("洗发水", "shampoo", None, []), ("护发素", "conditioner", None, [])]),
    ]),
    ("家居家装", "home-living", 600, [
        ("家纺", "home-textiles", None, [("床品套件", "bedding-sets", None, []), ("枕头", "pillows", None, [])]),
        ("厨房用品", "kitchenware", None, [("锅具", "cookware", None, []), ("刀具", "knives", None, [])]),
        ("家具", "furniture", None, [("沙发", "sofas", None, []), ("餐桌", "dining-tables", None, [])]),
    ]),
    ("母婴玩具", "baby-toys", 500, [
        ("奶粉辅食", "infant-food", 200, []),
        ("尿裤湿巾", "diapers", None, []),
        ("玩具", "toys", None, [("积木拼插", "building-blocks", None, []), ("毛绒玩具", "plush-toys", None, [])]),
    ]),
    ("运动户外", "sports-outdoors", 600, [
        ("运动服饰", "sportswear", None, []),
        ("户外装备", "outdoor-gear", None, [("帐篷", "tents", None, []), ("登山包", "hiking-backpacks", None, [])]),
        ("健身器材", "fitness-equipment", None, []),
    ]),
    ("图书文具", "books-stationery", 300, [
        ("图书", "books", None, [
            ("小说", "novels", None, []), ("童书", "childrens-books", None, []), ("教材教辅", "textbooks", None, []),
        ]),
        ("文具", "stationery", None, []),
    ]),
    ("汽车用品", "auto", 500, [
        ("车载电器", "car-electronics", None, []),
        ("汽车装饰", "car-accessories", None, []),
    ]),
]  # fmt: skip

# slug → [(name, input, options, unit, required, filterable)]
ATTRIBUTES: dict[str, list[tuple[str, str, list[str], str | None, bool, bool]]] = {
    "apparel": [
        ("材质", "select", ["棉", "涤纶", "羊毛", "羊绒", "真丝", "亚麻", "皮革"], None, True, True),
        ("适用季节", "multi", ["春季", "夏季", "秋季", "冬季"], None, False, True),
        ("风格", "select", ["休闲", "通勤", "运动", "复古", "简约"], None, False, True),
        ("产地", "text", [], None, False, False),
    ],
    "dresses": [
        ("裙长", "select", ["短裙", "中长裙", "长裙"], None, False, True),
        ("袖长", "select", ["无袖", "短袖", "七分袖", "长袖"], None, False, True),
    ],
    "shoes": [("鞋面材质", "select", ["真皮", "网布", "帆布", "合成革"], None, True, True)],
    "electronics": [
        ("产地", "select", ["中国大陆", "日本", "韩国", "美国", "其他"], None, False, True),
        ("保修期", "number", [], "月", True, False),
    ],
    "phones": [
        ("操作系统", "select", ["HarmonyOS", "Android", "iOS"], None, True, True),
        ("网络类型", "multi", ["5G", "4G"], None, False, True),
        ("屏幕尺寸", "number", [], "英寸", False, False),
    ],
    "computers": [
        ("处理器", "text", [], None, False, False),
        ("屏幕尺寸", "number", [], "英寸", False, True),
    ],
    "food": [
        ("产地", "text", [], None, False, False),
        ("保质期", "number", [], "天", True, False),
        ("储存方式", "select", ["常温", "冷藏", "冷冻"], None, True, True),
    ],
    "tea": [
        ("产地", "select", ["福建", "云南", "浙江", "安徽", "四川", "湖南", "广东"], None, True, True),
        ("茶叶等级", "select", ["特级", "一级", "二级", "三级"], None, False, True),
        ("采摘年份", "number", [], "年", False, False),
    ],
    "drinks": [("酒精度", "number", [], "%vol", False, False)],
    "beauty": [
        ("适用肤质", "multi", ["干性", "油性", "混合性", "中性", "敏感性"], None, False, True),
        ("功效", "multi", ["保湿", "美白", "抗皱", "控油", "修护"], None, False, True),
        ("产地", "select", ["中国大陆", "日本", "韩国", "法国", "美国", "其他"], None, False, True),
    ],
    "home-living": [
        ("材质", "select", ["实木", "金属", "玻璃", "陶瓷", "布艺", "塑料"], None, False, True),
        ("风格", "select", ["北欧", "新中式", "现代简约", "日式", "美式"], None, False, True),
    ],
    "home-textiles": [("面料", "select", ["纯棉", "天丝", "真丝", "亚麻", "磨毛"], None, True, True)],
    "baby-toys": [
        ("适用年龄", "select", ["0-6个月", "6-12个月", "1-3岁", "3-6岁", "6岁以上"], None, True, True),
    ],
    "sports-outdoors": [
        ("适用运动", "multi", ["跑步", "健身", "登山", "骑行", "露营", "球类"], None, False, True),
    ],
    "books": [
        ("作者", "text", [], None, True, False),
        ("出版社", "text", [], None, True, True),
        ("ISBN", "text", [], None, True, False),
        ("出版时间", "text", [], None, False, False),
    ],
    "auto": [("适用车型", "text", [], None, False, False)],
}

# slug → [(name, suggested values)]
SPECS: dict[str, list[tuple[str, list[str]]]] = {
    "apparel": [
        ("颜色", ["黑色", "白色", "灰色", "红色", "蓝色", "米色", "卡其色"]),
        ("尺码", ["S", "M", "L", "XL", "XXL"]),
    ],
    "shoes": [("尺码", ["35", "36", "37", "38", "39", "40", "41", "42", "43", "44"])],
    "bags": [("颜色", ["黑色", "棕色", "米白色", "酒红色"])],
    "electronics": [("颜色", ["黑色", "白色", "银色", "金色", "蓝色"])],
    "phones": [("版本", ["8GB+128GB", "8GB+256GB", "12GB+256GB", "12GB+512GB", "16GB+1TB"])],
    "computers": [("版本", ["i5/16GB/512GB", "i7/16GB/1TB", "i7/32GB/1TB", "R7/16GB/512GB"])],
    "home-appliances": [("版本", ["标准版", "智能版", "旗舰版"])],
    "food": [("规格", ["单盒装", "双盒装", "礼盒装"])],
    "tea": [("容量", ["50克", "100克", "250克", "500克"]), ("包装", ["罐装", "袋装", "礼盒装"])],
    "drinks": [("容量", ["330毫升", "500毫升", "750毫升", "1升"])],
    "beauty": [("容量", ["15毫升", "30毫升", "50毫升", "100毫升", "200毫升"])],
    "makeup": [("色号", ["01 正红", "02 豆沙", "03 枫叶", "04 裸粉"])],
    "home-textiles": [("尺寸", ["1.5米床", "1.8米床", "2.0米床"]), ("颜色", ["米白", "浅灰", "雾蓝", "豆绿"])],
    "kitchenware": [("尺寸", ["20厘米", "24厘米", "28厘米", "32厘米"])],
    "diapers": [("尺码", ["NB", "S", "M", "L", "XL", "XXL"])],
    "sportswear": [("颜色", ["黑色", "白色", "藏青", "荧光绿"]), ("尺码", ["S", "M", "L", "XL", "XXL"])],
    "books": [("版本", ["平装", "精装", "电子书兑换码"])],
}

# (name, slug, initial or None = derived, featured, story)
BRANDS: list[tuple[str, str, str | None, bool, str]] = [
    ("青禾", "qinghe", "Q", True, "源自福建武夷山的茶园品牌，坚持手工制茶。"),
    ("老茶坊", "laochafang", "L", False, "三代人守着云南的老茶树，只做普洱。"),
    ("鲜果时光", "xianguo-shiguang", "X", False, "产地直采的当季水果，冷链到家。"),
    ("流明 Lumina", "lumina", "L", True, "专注影音与智能硬件的设计品牌。"),
    ("星途 Startrail", "startrail", "X", True, "为年轻人打造的高性价比手机。"),
    ("Voltique", "voltique", None, False, "Chargers, cables and power banks that last."),
    ("素衣", "suyi", "S", False, "以天然面料制作的简约女装。"),
    ("Maison Lin", "maison-lin", None, True, "Paris-trained designer Lin's ready-to-wear line."),
    ("Urban Fox", "urban-fox", None, False, "Everyday menswear for the city."),
    ("步云", "buyun", "B", False, "轻量舒适的运动鞋。"),
    ("悦肤", "yuefu", "Y", False, "为敏感肌研发的温和护肤。"),
    ("Aqua Bloom", "aqua-bloom", None, True, "Hydrating skincare with botanical extracts."),
    ("云栖", "yunqi", "Y", False, "新中式家居与家纺。"),
    ("木语", "muyu", "M", False, "实木家具，榫卯工艺。"),
    ("Hearth & Co", "hearth-co", None, False, "Cast-iron and stainless cookware."),
    ("小熊当家", "xiaoxiong-dangjia", "X", False, "安心的婴幼儿用品。"),
    ("Kidoo", "kidoo", None, False, "Building blocks and creative toys."),
    ("Northpeak", "northpeak", None, True, "Tents, packs and layers for the mountains."),
    ("墨香", "moxiang", "M", False, "文具与手帐。"),
    ("驰行", "chixing", "C", False, "车载电器与汽车装饰。"),
    ("9号工坊", "no9-workshop", "#", False, "小批量手作皮具。"),
]

TAGS: list[tuple[str, str]] = [
    ("新品", "new"),
    ("爆款", "bestseller"),
    ("包邮", "free-shipping"),
    ("正品保障", "authentic"),
    ("七天无理由", "7-day-returns"),
    ("国货", "made-in-china"),
    ("有机", "organic"),
]

HOME_LAYOUT = ("banners", "hot_products", "stores", "brands", "category_zone", "new_arrivals", "offers")
ZONE_COUNT = 4  # category zones for the first top categories


def _seed_categories(report: dict[str, Any]) -> dict[str, Category]:
    by_slug = {c.slug: c for c in db.session.scalars(select(Category))}
    created = 0

    def walk(items: list, parent: Category | None) -> None:
        nonlocal created
        for name, slug, commission, children in items:
            category = by_slug.get(slug)
            if category is None:
                siblings = [c for c in by_slug.values() if c.parent_id == (parent.id if parent else None)]
                category = Category(
                    name=name,
                    slug=slug,
                    parent_id=parent.id if parent else None,
                    commission_rate_bp=commission,
                    position=max((c.position for c in siblings), default=-1) + 1,
                    is_enabled=True,
                )
                db.session.add(category)
                db.session.flush()
                category.path = f"{parent.path if parent else '/'}{category.id}/"
                category.depth = parent.depth + 1 if parent else 0
                by_slug[slug] = category
                created += 1
            walk(children, category)

    walk(CATEGORIES, None)
    report["created"]["categories"] = created
    return by_slug


def _seed_templates(by_slug: dict[str, Category], report: dict[str, Any]) -> None:
    attributes = {(a.category_id, a.name.casefold()): a for a in db.session.scalars(select(CategoryAttribute))}
    specs = {(s.category_id, s.name.casefold()): s for s in db.session.scalars(select(CategorySpec))}
    created = 0
    for slug, rows in ATTRIBUTES.items():
        category = by_slug[slug]
        for name, kind, options, unit, required, filterable in rows:
            if (category.id, name.casefold()) in attributes:
                continue
            position = 1 + max((a.position for (cid, _n), a in attributes.items() if cid == category.id), default=-1)
            attribute = CategoryAttribute(
                category_id=category.id,
                name=name,
                input=kind,
                options=list(options),
                unit=unit,
                is_required=required,
                is_filterable=filterable,
                position=position,
            )
            db.session.add(attribute)
            attributes[(category.id, name.casefold())] = attribute
            created += 1
    for slug, rows in SPECS.items():
        category = by_slug[slug]
        for name, values in rows:
            if (category.id, name.casefold()) in specs:
                continue
            position = 1 + max((s.position for (cid, _n), s in specs.items() if cid == category.id), default=-1)
            spec = CategorySpec(category_id=category.id, name=name, values=list(values), position=position)
            db.session.add(spec)
            specs[(category.id, name.casefold())] = spec
            created += 1
    report["created"]["templates"] = created


def _seed_brands(report: dict[str, Any]) -> dict[str, Brand]:
    by_slug = {b.slug: b for b in db.session.scalars(select(Brand))}
    names = {b.name.casefold() for b in by_slug.values()}
    created = 0
    for position, (name, slug, initial, featured, story) in enumerate(BRANDS):
        if slug in by_slug or name.casefold() in names:
            continue
        brand = Brand(
            name=name,
            slug=slug,
            initial=initial or derived_initial(name),
            is_featured=featured,
            is_enabled=True,
            story=story,
            position=position,
        )
        db.session.add(brand)
        by_slug[slug] = brand
        names.add(name.casefold())
        created += 1
    report["created"]["brands"] = created
    return by_slug


def _seed_tags(report: dict[str, Any]) -> dict[str, Tag]:
    by_slug = {t.slug: t for t in db.session.scalars(select(Tag))}
    names = {t.name.casefold() for t in by_slug.values()}
    created = 0
    for name, slug in TAGS:
        if slug in by_slug or name.casefold() in names:
            continue
        by_slug[slug] = tag = Tag(name=name, slug=slug)
        db.session.add(tag)
        names.add(name.casefold())
        created += 1
    report["created"]["tags"] = created
    return by_slug


def _seed_home(categories: dict[str, Category], report: dict[str, Any]) -> None:
    """The default home page, only while the operator has configured none."""
    report["created"]["home_blocks"] = 0
    if db.session.scalar(select(func.count()).select_from(HomeBlock)):
        return
    tops = [categories[slug] for _name, slug, _rate, _children in CATEGORIES[:ZONE_COUNT]]
    blocks: list[HomeBlock] = []
    for kind in HOME_LAYOUT:
        if kind == "category_zone":
            blocks += [
                HomeBlock(kind=kind, config={"category_id": top.id, "limit": DEFAULT_LIMITS[kind]}) for top in tops
            ]
        else:
            config = {"limit": DEFAULT_LIMITS[kind]} if kind in DEFAULT_LIMITS else {}
            blocks.append(HomeBlock(kind=kind, config=config))
    for position, block in enumerate(blocks):
        block.position = position
        block.is_enabled = True
    db.session.add_all(blocks)
    report["created"]["home_blocks"] = len(blocks)


def _leaves(categories: dict[str, Category]) -> list[str]:
    parents = {c.parent_id for c in categories.values() if c.parent_id}
    return sorted(slug for slug, c in categories.items() if c.id not in parents)


def seed_taxonomy() -> dict[str, Any]:
    """Create what is missing of the standard taxonomy (flushes; the caller commits). Returns
    ``{"categories": {slug: id}, "brands": {...}, "tags": {...}, "leaf_categories": [slug, ...],
    "created": {what: how many this run}}``."""
    report: dict[str, Any] = {"created": {}}
    categories = _seed_categories(report)
    _seed_templates(categories, report)
    brands = _seed_brands(report)
    tags = _seed_tags(report)
    _seed_home(categories, report)
    db.session.flush()
    if any(report["created"].values()):
        taxonomy_edited("seed")
    report.update(
        categories={slug: c.id for slug, c in categories.items()},
        brands={slug: b.id for slug, b in brands.items()},
        tags={slug: t.id for slug, t in tags.items()},
        leaf_categories=_leaves(categories),
    )
    return report
