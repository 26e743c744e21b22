"""Theme registry: manifests, the template chain theme → default → mall, per-theme caches, assets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mall.decoration.modules import MODULE_TYPES
from mall.decoration.themes import ThemeError, ThemeRegistry, themes

THEMES_ROOT = Path(__file__).resolve().parents[2] / "themes"


def test_the_shipped_themes_load_with_their_manifests(app_ctx):
    registry = themes()
    assert [t.name for t in registry.all()] == ["default", "classic", "compact", "magazine"]
    assert registry.errors == {}
    for theme in registry.all():
        assert set(theme.names) == {"zh_Hans_CN", "en"} and all(theme.names.values())
        assert (theme.path / "static" / theme.preview).is_file()
        assert set(theme.modules) == set(MODULE_TYPES)  # every module type renders in every theme
        assert {"primary_color", "accent_color"} & set(theme.settings)
        assert "logo_position" in theme.settings
        assert theme.defaults == theme.effective_settings({})
    # They differ in layout, not only in colour: their own page layouts and slots.
    assert themes().get("classic").slot_names == ("main", "sidebar")
    assert themes().get("magazine").slot_names == ("main", "hero")
    for name in ("classic", "magazine", "compact"):
        assert (THEMES_ROOT / name / "templates" / "store.html").is_file()
        assert (THEMES_ROOT / name / "static" / "theme.css").is_file()


def test_theme_css_uses_only_system_fonts_and_no_external_assets():
    for css in THEMES_ROOT.glob("*/static/*.css"):
        text = css.read_text()
        assert "@import" not in text and "@font-face" not in text, css
        assert "http:" not in text and "https:" not in text and "//" not in text.replace("/*", "").replace("*/", ""), (
            css
        )
    for template in THEMES_ROOT.glob("*/templates/**/*.html"):
        text = template.read_text()
        assert "http://" not in text and "https://" not in text and "<script" not in text, template


def test_effective_settings_drop_invalid_and_unknown_values(app_ctx):
    classic = themes().get("classic")
    values = classic.effective_settings(
        {
            "primary_color": "#123abc",
            "accent_color": "red",
            "sidebar_position": "top",
            "bogus": 1,
            "show_contact": "yes",
        }
    )
    assert values["primary_color"] == "#123abc"
    assert values["accent_color"] == classic.settings["accent_color"].default
    assert values["sidebar_position"] == "left" and "bogus" not in values
    assert values["show_contact"] is True  # a non-boolean is ignored: the default stays


def _copy_default(root: Path) -> None:
    shutil.copytree(THEMES_ROOT / "default", root / "default")


def _manifest(root: Path, folder_name: str, **changes) -> dict:
    manifest = json.loads((THEMES_ROOT / "default" / "theme.json").read_text())
    manifest.update(changes)
    folder = root / folder_name
    (folder / "static").mkdir(parents=True, exist_ok=True)
    (folder / "static" / "preview.png").write_bytes((THEMES_ROOT / "default" / "static" / "preview.png").read_bytes())
    (folder / "theme.json").write_text(json.dumps(manifest))
    return manifest


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"name": {"en": "Only English"}}, "zh_Hans_CN"),
        ({"modules": ["banner", "carousel3d"]}, "modules"),
        ({"slots": []}, "slots"),
        ({"preview": "../theme.json"}, "preview"),
        ({"preview": "missing.png"}, "missing"),
        (
            {
                "settings": {
                    "primary_color": {"type": "color", "label": {"zh_Hans_CN": "a", "en": "a"}, "default": "red"}
                }
            },
            "default",
        ),
        (
            {
                "settings": {
                    "font": {
                        "type": "font",
                        "label": {"zh_Hans_CN": "a", "en": "a"},
                        "choices": ["comic"],
                        "default": "comic",
                    }
                }
            },
            "fonts",
        ),
        ({"settings": {"x": {"type": "css", "label": {"zh_Hans_CN": "a", "en": "a"}, "default": ""}}}, "type"),
    ],
)
def test_broken_themes_are_skipped_with_the_reason(tmp_path, changes, reason):
    _copy_default(tmp_path)
    _manifest(tmp_path, "broken", **changes)
    registry = ThemeRegistry(tmp_path, tuple(MODULE_TYPES))
    registry.load()
    assert registry.get("broken") is None
    assert reason in registry.errors["broken"]
    assert [t.name for t in registry.all()] == ["default"]


def test_a_theme_needs_valid_json_and_a_valid_folder_name(tmp_path):
    _copy_default(tmp_path)
    (tmp_path / "nojson").mkdir()
    (tmp_path / "nojson" / "theme.json").write_text("{not json")
    _manifest(tmp_path, "Bad Name")
    registry = ThemeRegistry(tmp_path, tuple(MODULE_TYPES))
    registry.load()
    assert set(registry.errors) == {"nojson", "Bad Name"}


def test_the_default_theme_is_required(tmp_path):
    _manifest(tmp_path, "solo")
    with pytest.raises(ThemeError, match="default"):
        ThemeRegistry(tmp_path, tuple(MODULE_TYPES)).load()


def test_template_lookup_chain_theme_then_default_then_mall(app_ctx):
    registry = themes()
    compact = registry.environment("compact")
    # The theme's own template...
    assert compact.get_template("modules/banner.html").filename.endswith("themes/compact/templates/modules/banner.html")
    # ...a template the theme does not ship comes from the default theme...
    coupon = compact.get_template("modules/coupon_strip.html").filename
    assert coupon.endswith("themes/default/templates/modules/coupon_strip.html")
    assert not (THEMES_ROOT / "compact" / "templates" / "modules" / "coupon_strip.html").exists()
    # ...and the mall's shared templates come last.
    assert compact.get_template("base.html").filename.endswith("mall/templates/base.html")
    assert registry.search_path("compact") == [
        THEMES_ROOT / "compact" / "templates",
        THEMES_ROOT / "default" / "templates",
    ]
    # An unknown theme name renders with the default theme.
    assert registry.environment("no-such-theme") is registry.environment("default")


def test_template_cache_is_keyed_by_theme(app_ctx):
    registry = themes()
    classic, magazine = registry.environment("classic"), registry.environment("magazine")
    assert classic is registry.environment("classic")  # one environment per theme, reused
    assert classic is not magazine and classic.cache is not magazine.cache
    assert classic.get_template("store.html").filename.endswith("themes/classic/templates/store.html")
    assert magazine.get_template("store.html").filename.endswith("themes/magazine/templates/store.html")
    # Same name, two themes, two compiled templates: neither cache serves the other theme's file.
    assert classic.get_template("_header.html") is not magazine.get_template("_header.html")
    # The overlay shares the app's globals, filters and translations.
    assert classic.globals is app_ctx.jinja_env.globals


def test_fallback_with_a_dropped_in_theme_folder(app, tmp_path):
    shutil.copytree(THEMES_ROOT, tmp_path / "themes")
    root = tmp_path / "themes"
    _manifest(root, "tiny", name={"zh_Hans_CN": "小", "en": "Tiny"})
    (root / "tiny" / "templates").mkdir()
    (root / "tiny" / "templates" / "_empty.html").write_text("<p class='tiny-empty'>tiny</p>")
    registry = ThemeRegistry(root, tuple(MODULE_TYPES))
    registry.load()
    with app.app_context():
        env = registry.environment("tiny", app)
        assert env.get_template("_empty.html").filename.endswith("themes/tiny/templates/_empty.html")
        assert env.get_template("store.html").filename.endswith("themes/default/templates/store.html")
    assert registry.static_file("tiny", "shop.css") == root / "default" / "static" / "shop.css"


def test_assets_are_served_per_theme_with_fallback_to_default(client, db):
    own = client.get("/themes/classic/static/theme.css")
    assert own.status_code == 200 and b".theme-classic" in own.data
    fallback = client.get("/themes/classic/static/shop.css")  # classic ships no shop.css
    assert fallback.status_code == 200
    assert fallback.data == (THEMES_ROOT / "default" / "static" / "shop.css").read_bytes()
    assert client.get("/themes/magazine/static/preview.png").headers["Content-Type"] == "image/png"
    assert client.get("/themes/no-such-theme/static/shop.css").status_code == 404
    assert client.get("/themes/classic/static/nothing.css").status_code == 404


def test_assets_are_cacheable(client, db):
    plain = client.get("/themes/default/static/shop.css")
    assert "public" in plain.headers["Cache-Control"] and "max-age=3600" in plain.headers["Cache-Control"]
    versioned = client.get("/themes/default/static/shop.css?v=abc")
    assert (
        "immutable" in versioned.headers["Cache-Control"] and "max-age=31536000" in versioned.headers["Cache-Control"]
    )
    again = client.get("/themes/default/static/shop.css", headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "/themes/default/static/../theme.json",
        "/themes/default/static/%2e%2e/theme.json",
        "/themes/default/static/..%2ftheme.json",
        "/themes/default/static/%2e%2e%2f%2e%2e%2fmall%2f__init__.py",
        "/themes/default/static/..%5ctheme.json",
        "/themes/classic/static/../../default/theme.json",
        "/themes/default/static//etc/passwd",
        "/themes/default/static/%2fetc%2fpasswd",
        "/themes/default/static/.hidden",
        "/themes/default/static/templates/store.html",
        "/themes/..%2fdefault/static/shop.css",
        "/themes/%2e%2e/static/shop.css",
    ],
)
def test_asset_paths_cannot_leave_the_static_folder(client, db, path):
    response = client.get(path, follow_redirects=True)  # "//" is merged by the router (308), then 404
    assert response.status_code == 404, path
    assert b"{" not in response.data[:1] and b"import" not in response.data


def test_static_file_rejects_traversal_directly(app_ctx):
    registry = themes()
    for name in ("../theme.json", "../../mall/__init__.py", "/etc/passwd", "..\\theme.json", ".hidden", "a/../../x"):
        assert registry.static_file("default", name) is None, name
        assert registry.static_file("classic", name) is None, name
    assert registry.static_file("../default", "shop.css") is None
