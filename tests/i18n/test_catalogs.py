"""The catalogs match the code: every string in the source is in both catalogs, fully translated.

Extraction uses ``babel.cfg`` itself, so this check and ``pybabel extract``
always agree on which files and keywords count. When a test here fails after changing strings:

    pybabel extract -F babel.cfg -k L_ -k lazy_gettext --project=mall --version=1.0 \
        --copyright-holder=mall -o translations/messages.pot .
    pybabel update -i translations/messages.pot -d translations --ignore-obsolete --no-fuzzy-matching

then translate the new entries (zh_Hans_CN) and copy msgid to msgstr (en).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "translations"
LOCALES = ("zh_Hans_CN", "en")
# The same keywords as `pybabel extract -k L_ -k lazy_gettext` (Babel's defaults include `_`, `gettext`...).
KEYWORDS = {**DEFAULT_KEYWORDS, "L_": None, "lazy_gettext": None}
# printf-style placeholders: %(name)s, %(n)d, %(x).2f ... (and a literal %% is not one).
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +\-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _mapping():
    from babel.messages import frontend

    parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        return parse(f)


def _key(message, context):
    msgid = message[0] if isinstance(message, (tuple, list)) else message
    return (context, msgid)


@pytest.fixture(scope="module")
def extracted() -> dict[tuple[str | None, str], list[str]]:
    """(context, msgid) -> ["file:line", ...] for every translatable string in the source."""
    method_map, options_map = _mapping()
    found: dict[tuple[str | None, str], list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        key = _key(message, context)
        if key[1]:
            found.setdefault(key, []).append(f"{filename}:{lineno}")
    return found


def _read(path: Path):
    with open(path, "rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def catalogs():
    return {locale: _read(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po") for locale in LOCALES}


def _entries(catalog):
    return [m for m in catalog if m.id]


def _ids(message) -> list[str]:
    return list(message.id) if isinstance(message.id, (tuple, list)) else [message.id]


def _strings(message) -> list[str]:
    return list(message.string) if isinstance(message.string, (tuple, list)) else [message.string]


def test_extraction_finds_the_known_areas(extracted):
    """Guards the map itself: python (plain and lazy) and templates of every area are scanned."""
    files = {loc.rsplit(":", 1)[0] for locs in extracted.values() for loc in locs}
    assert any(f.endswith(".py") for f in files)
    areas = (
        "mall/templates/",
        "mall/consumer/templates/",
        "mall/merchant/templates/",
        "mall/platform/templates/",
    )
    for area in areas:
        assert any(f.replace("\\", "/").startswith(area) for f in files), area
    assert (None, "Log in") in extracted  # template, _()
    assert (None, "Username, email or mobile") in extracted  # python, L_()
    assert (None, "Please log in to continue.") in extracted  # python, L_() at runtime wiring
    assert len(extracted) > 100


@pytest.mark.parametrize("name", ["messages.pot", *[f"{loc}/LC_MESSAGES/messages.po" for loc in LOCALES]])
def test_every_source_string_is_in_the_catalog(extracted, name):
    catalog = _read(TRANSLATIONS / name)
    present = {(m.context, _ids(m)[0]) for m in _entries(catalog)}
    missing = {key: locs for key, locs in extracted.items() if key not in present}
    listing = "\n".join(
        f"  {msgid!r} ({', '.join(locs[:2])})" for (_ctx, msgid), locs in sorted(missing.items(), key=str)
    )
    assert not missing, (
        f"{len(missing)} string(s) not in translations/{name} (re-extract, update: see the module doc):\n" + listing
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_has_no_untranslated_or_fuzzy_entries(catalogs, locale):
    catalog = catalogs[locale]
    assert not catalog.fuzzy, f"{locale}: the header is marked fuzzy"
    fuzzy = [m.id for m in _entries(catalog) if m.fuzzy]
    empty = [m.id for m in _entries(catalog) if not all(s and s.strip() for s in _strings(m))]
    assert not fuzzy, f"{locale}: fuzzy entries: {fuzzy}"
    assert not empty, f"{locale}: untranslated entries: {empty}"
    obsolete = list(catalog.obsolete)
    assert not obsolete, f"{locale}: obsolete entries (update with --ignore-obsolete): {obsolete}"


def test_catalog_locales_and_plural_forms(catalogs):
    assert str(catalogs["zh_Hans_CN"].locale) == "zh_Hans_CN"
    assert catalogs["zh_Hans_CN"].num_plurals == 1
    assert str(catalogs["en"].locale) == "en"
    assert catalogs["en"].num_plurals == 2


def test_chinese_strings_are_actually_chinese(catalogs):
    """A msgstr copied from the English (or left in English) is as good as untranslated."""
    not_chinese = [(m.id, s) for m in _entries(catalogs["zh_Hans_CN"]) for s in _strings(m) if not CJK.search(s)]
    assert not not_chinese, not_chinese


def test_english_catalog_is_the_source_text(catalogs):
    differs = [(m.id, m.string) for m in _entries(catalogs["en"]) if _strings(m) != _ids(m)[: len(_strings(m))]]
    assert not differs, f"en msgstr should equal msgid (change the wording in the code instead): {differs}"


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_match(catalogs, locale):
    wrong = []
    for m in _entries(catalogs[locale]):
        expected = set().union(*(PLACEHOLDER.findall(i) for i in _ids(m)))
        for s in _strings(m):
            got = set(PLACEHOLDER.findall(s))
            if got != expected:
                wrong.append((m.id, s, sorted(expected), sorted(got)))
    assert not wrong, f"{locale}: placeholder mismatch: {wrong}"


@pytest.mark.parametrize("locale", LOCALES)
def test_babel_format_checkers_pass(catalogs, locale):
    """Babel's own python-format checks (types, positional vs named) over the whole catalog."""
    errors = [(m.id, [str(e) for e in errs]) for m, errs in catalogs[locale].check()]
    assert not errors, errors


def test_catalogs_compile_and_translate(catalogs):
    def translations(locale):
        buf = io.BytesIO()
        write_mo(buf, catalogs[locale])
        buf.seek(0)
        return Translations(buf)

    zh, en = translations("zh_Hans_CN"), translations("en")
    assert zh.gettext("Log in") == "登录"
    assert zh.gettext("Merchant centre") == "商家中心"
    assert zh.gettext("Operator back office") == "运营后台"
    welcome = zh.gettext("Welcome, %(name)s! Your account is ready.") % {"name": "小明"}
    assert welcome == "欢迎您，小明！账号注册成功。"
    assert en.gettext("Log in") == "Log in"
