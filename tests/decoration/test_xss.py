"""XSS corpus: every payload in every text and URL field of every module and theme setting stays inert.

Each payload goes through the same service the editor uses; what is accepted is published and the
store page is rendered in every theme (and as the merchant's preview and editor). The pages are then
parsed: no script element, no event-handler attribute, no ``style`` attribute, no URL attribute with a
``javascript:``/``data:``/``vbscript:`` scheme, no foreign element (svg, iframe, object, base, meta
refresh…). Text that merely *mentions* ``javascript:`` is shown escaped, as text, which is inert.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from mall.decoration import services
from mall.decoration.modules import ConfigInvalid, DecorationError, Upload
from mall.decoration.themes import themes
from mall.merchants.models import StoreProfile
from mall.tenancy import tenant
from tests.decoration.conftest import EN, mp4_bytes, png_bytes

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<body onload=alert(1)>",
    '<iframe src="javascript:alert(1)"></iframe>',
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "java&#x09;script:alert(1)",
    "&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    '"><script>alert(1)</script>',
    "' onmouseover='alert(1)",
    '" onfocus="alert(1)" autofocus="',
    "</textarea><script>alert(1)</script>",
    "</style><script>alert(1)</script>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<div style="width: expression(alert(1))">x</div>',
    '<a href="javascript:alert(1)">click</a>',
    '<a href=" &#14; javascript:alert(1)">x</a>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>x</details>",
    '<object data="data:text/html,<script>alert(1)</script>"></object>',
    '<embed src="javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<form><button formaction=javascript:alert(1)>x</button></form>",
    "＜script＞alert(1)＜/script＞",
    "\u202e<script>alert(1)</script>",
    "<scr\u200bipt>alert(1)</scr\u200bipt>",
    "%3Cscript%3Ealert(1)%3C/script%3E",
    '<img src="/media/x.png" onerror="alert(1)">',
    '<a href="/ok" onclick="alert(1)">ok</a>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<xss onafterscriptexecute=alert(1)><script>1</script>",
    "\x00<script>alert(1)</script>",
    "{{ config.SECRET_KEY }}{% print(7*7) %}",
    '<p><a href="https://example.com" target="_blank" rel="opener">tabnab</a></p>',
    "<p>ok</p><!--<script>alert(1)</script>-->",
    '<img src="javascript:alert(1)">',
    '/shop/x/" onmouseover="alert(1)',
]

# (module type, form without the field, files, fields that take the payload)
MODULE_FIELDS = [
    ("banner", {"aspect": "wide"}, "slides-new-image", ["slides-new-link", "slides-new-alt", "aspect"]),
    ("product_grid", {"source": "newest", "limit": "8"}, None, ["title", "source", "limit"]),
    ("product_grid", {"source": "category", "limit": "8"}, None, ["category_id"]),
    ("product_grid", {"source": "picked", "limit": "8"}, None, ["product_ids"]),
    ("coupon_strip", {}, None, ["title"]),
    ("rich_text", {}, None, ["html"]),
    ("image", {}, "image", ["alt", "link", "caption"]),
    ("video", {}, "video", ["title"]),
    ("video", {}, None, ["video_url"]),
    ("notice", {"text": "Notice"}, None, ["text", "style"]),
]
URL_ATTRIBUTES = {"href", "src", "poster", "action", "formaction", "data", "xlink:href", "background", "srcset"}
FORBIDDEN_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "base", "frame", "frameset", "applet", "xss"}
SAFE_URL = re.compile(r"^(https?://|/(?!/)|#|tel:\+?\d+$|\?)", re.IGNORECASE)


class InertnessChecker(HTMLParser):
    """Collects everything in a page that could run script."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.in_style = False
        self.styles = 0

    def handle_starttag(self, tag, attrs):
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        if tag == "style":
            self.in_style, self.styles = True, self.styles + 1
        if tag == "meta" and any(k == "http-equiv" for k, _v in attrs):
            self.problems.append("<meta http-equiv>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name == "style":
                self.problems.append(f"<{tag} style=…>")
            if name in URL_ATTRIBUTES and value is not None:
                cleaned = re.sub(r"[\x00-\x20\x7f]", "", value)
                if re.match(r"^(javascript|data|vbscript):", cleaned, re.IGNORECASE) or not SAFE_URL.match(value):
                    self.problems.append(f"<{tag} {name}={value!r}>")
            if name == "target":
                self.problems.append(f"<{tag} target=…> (tabnabbing)")

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False

    def handle_data(self, data):
        if self.in_style and not re.fullmatch(r"\s*:root \{[-a-z0-9#:;,\s\"'()]*\}\s*", data, re.IGNORECASE):
            self.problems.append(f"unexpected style content {data[:80]!r}")
        if self.in_style and re.search(r"expression|url\(|javascript|@import", data, re.IGNORECASE):
            self.problems.append("dangerous CSS")


def assert_inert(html: str) -> None:
    lowered = html.lower()
    assert "<script" not in lowered
    assert "test-secret" not in html  # merchant text is never evaluated as a template
    checker = InertnessChecker()
    checker.feed(html)
    checker.close()
    assert checker.problems == [], checker.problems[:10]
    assert checker.styles <= 1


def _files(slot: str | None) -> dict:
    if slot == "video":
        return {"video": Upload(mp4_bytes(), "film.mp4")}
    return {slot: Upload(png_bytes(40, 20), "p.png")} if slot else {}


@pytest.fixture()
def xss_store(make_store, monkeypatch):
    monkeypatch.setattr(services, "MAX_MODULES", 2000)
    return make_store("XSS Store", "xss-store")


def test_payload_corpus_is_big_enough():
    assert len(PAYLOADS) >= 30 and len(set(PAYLOADS)) == len(PAYLOADS)


def test_payloads_in_every_module_field_stay_inert_in_every_theme(db, xss_store):
    store, mid = xss_store, xss_store.merchant.id
    accepted: dict[str, int] = {}
    with tenant(mid):
        services.set_theme(store.owner, "classic")
        for kind, base, file_field, fields in MODULE_FIELDS:
            for field in fields:
                for payload in PAYLOADS:
                    for slot in ("main", "sidebar"):
                        try:
                            services.add_module(
                                store.owner, kind, {**base, field: payload}, _files(file_field), slot=slot
                            )
                        except (ConfigInvalid, DecorationError):
                            continue
                        accepted[f"{kind}.{field}"] = accepted.get(f"{kind}.{field}", 0) + 1
                for payload in PAYLOADS:  # the area of the page is merchant input too
                    with pytest.raises(ConfigInvalid):
                        services.add_module(store.owner, "notice", {"text": "x"}, {}, slot=payload)
    # Plain-text fields take every payload (and show it escaped); choice, number and link fields refuse them.
    for field in ("notice.text", "coupon_strip.title", "image.alt", "banner.slides-new-alt"):
        assert accepted[field] >= 2 * (len(PAYLOADS) - 8), field
    for field in ("notice.style", "banner.aspect", "product_grid.source", "product_grid.limit", "video.video_url"):
        assert field not in accepted, field
    assert accepted.get("rich_text.html", 0) >= 10  # the payloads that still show some text, sanitised
    assert accepted.get("banner.slides-new-link", 0) <= 2  # only the quoted site path is a "link" at all

    for theme in ("classic", "default", "magazine", "compact"):
        with tenant(mid):
            if theme != "classic":
                services.set_theme(store.owner, theme)
            services.publish(store.owner)
        page = store.page()
        assert f"theme-{theme}" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # really rendered
        assert_inert(page)
        assert_inert(store.page())  # second time from the Redis cache
    assert_inert(store.client.get("/merchant/decoration/preview/page", headers=EN).get_data(as_text=True))
    editor = store.client.get("/merchant/decoration", headers=EN).get_data(as_text=True)
    assert_inert(editor)
    with tenant(mid):
        samples = {m["type"]: m["id"] for m in services.current_draft().modules}
    for module_id in samples.values():
        form = store.client.get(f"/merchant/decoration/modules/{module_id}", headers=EN).get_data(as_text=True)
        assert_inert(form)


def test_payloads_in_theme_settings_are_refused(db, xss_store):
    store, mid = xss_store, xss_store.merchant.id
    for theme in themes().all():
        with tenant(mid):
            services.set_theme(store.owner, theme.name)
            before = dict(services.current_draft().settings)
            for key, spec in theme.settings.items():
                for payload in PAYLOADS:
                    if spec.type == "boolean":
                        values = services.update_theme_settings(store.owner, {key: payload})
                        assert values.get(key, spec.default) in (True, False)
                        continue
                    with pytest.raises(ConfigInvalid) as caught:
                        services.update_theme_settings(store.owner, {key: payload})
                    assert key in caught.value.errors
                    assert {k: v for k, v in services.current_draft().settings.items() if k != key} == {
                        k: v for k, v in before.items() if k != key
                    }
            services.add_module(store.owner, "notice", {"text": "settings"}, {})
            services.publish(store.owner)
        assert_inert(store.page())
    # Through the editor form as well: nothing saved, the error shown, the page inert.
    response = store.post("/merchant/decoration/settings", {"accent_color": '"><script>alert(1)</script>'})
    assert response.status_code == 400
    assert_inert(response.get_data(as_text=True))


@pytest.mark.parametrize("payload", PAYLOADS[:12] + PAYLOADS[15:20])
def test_payloads_in_store_name_and_profile_stay_inert(db, xss_store, payload):
    """Store data shown in the header (edited elsewhere) is escaped by every theme too."""
    store = xss_store
    store.merchant.name = payload[:80]
    with tenant(store.merchant.id):
        db.session.add(
            StoreProfile(service_phone=payload[:30], service_hours=payload[:100], intro=payload, notice=payload)
        )
        db.session.flush()
        services.add_module(store.owner, "notice", {"text": "x"}, {})
    for theme in ("default", "classic", "magazine", "compact"):
        with tenant(store.merchant.id):
            services.set_theme(store.owner, theme)
            services.publish(store.owner)
        assert_inert(store.page())


@pytest.mark.parametrize(
    "html",
    [
        "<p>x</p><script>1</script>",
        '<img src="/a.png" onerror="x()">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href=" java&#x09;script:alert(1)">x</a>',
        '<img src="data:image/svg+xml,<svg/onload=alert(1)>">',
        '<div style="background:url(x)">x</div>',
        "<svg></svg>",
        '<meta http-equiv="refresh" content="0">',
        "<style>body{background:url(javascript:x)}</style>",
        '<a href="//evil.example/">x</a>',
    ],
)
def test_the_checker_catches_what_it_looks_for(html):
    with pytest.raises(AssertionError):
        assert_inert(html)
