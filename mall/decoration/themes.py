"""Store themes: manifests loaded from ``themes/<name>/theme.json``, one Jinja environment per theme.

Template lookup is an explicit chain (as in CTFd): the store's theme → the ``default``
theme → the shared mall templates. Each theme gets its own environment overlaid
from ``app.jinja_env`` (same globals, filters and extensions), so its template cache
is keyed by theme. Assets are served per theme with the same fallback to ``default``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, current_app
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from werkzeug.security import safe_join

from mall.decoration.modules import MODULE_TYPES
from mall.i18n import L_, get_locale

log = logging.getLogger(__name__)

DEFAULT_THEME = "default"
EXTENSION_KEY = "mall.themes"
THEME_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")
MANIFEST_LOCALES = ("zh_Hans_CN", "en")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
TEMPLATE_CACHE_SIZE = 200

# Fonts are chosen by key; the stacks are ours (system fonts only, nothing fetched from a CDN).
FONT_STACKS = {
    "sans": '-apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", system-ui, sans-serif',
    "serif": '"Songti SC", "Noto Serif CJK SC", "Source Han Serif SC", Georgia, "Times New Roman", serif',
    "rounded": 'ui-rounded, "SF Pro Rounded", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif',
    "mono": 'ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace',
}
FONT_LABELS = {
    "sans": L_("Sans-serif (system fonts)"),
    "serif": L_("Serif (system fonts)"),
    "rounded": L_("Rounded (system fonts)"),
    "mono": L_("Monospace (system fonts)"),
}
SETTING_TYPES = ("color", "font", "choice", "boolean")


class ThemeError(ValueError):
    """A theme folder or manifest is invalid (a developer error, reported when themes load)."""


@dataclass(frozen=True)
class Setting:
    """One entry of a theme's settings schema."""

    key: str
    type: str
    labels: dict[str, str]
    default: object
    choices: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return localised(self.labels)

    def choice_label(self, value: str) -> str:
        if self.type == "font":
            return str(FONT_LABELS.get(value, value))
        return localised(self.choices.get(value, {})) or value

    def is_valid(self, value: object) -> bool:
        if self.type == "color":
            return isinstance(value, str) and bool(COLOR_RE.match(value))
        if self.type in ("font", "choice"):
            return isinstance(value, str) and value in self.choices
        if self.type == "boolean":
            return isinstance(value, bool)
        return False


@dataclass(frozen=True)
class Slot:
    name: str
    labels: dict[str, str]

    @property
    def label(self) -> str:
        return localised(self.labels)


@dataclass(frozen=True)
class Theme:
    """A validated theme manifest and where its files are."""

    name: str
    path: Path
    names: dict[str, str]
    descriptions: dict[str, str]
    preview: str
    slots: tuple[Slot, ...]
    modules: tuple[str, ...]
    settings: dict[str, Setting]

    @property
    def label(self) -> str:
        return localised(self.names)

    @property
    def description(self) -> str:
        return localised(self.descriptions)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.slots)

    @property
    def default_slot(self) -> str:
        return self.slots[0].name

    @property
    def defaults(self) -> dict[str, object]:
        return {key: s.default for key, s in self.settings.items()}

    def slot_for(self, slot: str | None) -> str:
        """The slot a module placed in ``slot`` is shown in (the first slot if this theme lacks it)."""
        return slot if slot in self.slot_names else self.default_slot

    def effective_settings(self, stored: dict | None) -> dict[str, object]:
        """Defaults overlaid with the stored values that are still valid for this theme."""
        values = self.defaults
        for key, value in (stored or {}).items():
            spec = self.settings.get(key)
            if spec is not None and spec.is_valid(value):
                values[key] = value
        return values


def localised(labels: dict[str, str]) -> str:
    """The label in the request's locale, else English, else any."""
    try:
        locale = str(get_locale())
    except RuntimeError:  # outside an app context
        locale = "en"
    return labels.get(locale) or labels.get("en") or next(iter(labels.values()), "")


def _labels(raw: object, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(loc), str) and raw[loc] for loc in MANIFEST_LOCALES):
        raise ThemeError(f"{where}: needs a non-empty text for each of {', '.join(MANIFEST_LOCALES)}")
    return {loc: raw[loc] for loc in MANIFEST_LOCALES}


def _setting(key: str, raw: object, where: str) -> Setting:
    if not re.match(r"^[a-z][a-z0-9_]{0,39}$", key) or not isinstance(raw, dict):
        raise ThemeError(f"{where}: invalid setting {key!r}")
    kind = raw.get("type")
    if kind not in SETTING_TYPES:
        raise ThemeError(f"{where}: setting {key!r} has unknown type {kind!r} (allowed: {', '.join(SETTING_TYPES)})")
    choices: dict[str, dict[str, str]] = {}
    if kind == "font":
        names = raw.get("choices") or list(FONT_STACKS)
        unknown = [n for n in names if n not in FONT_STACKS]
        if unknown:
            raise ThemeError(
                f"{where}: setting {key!r} names unknown fonts {unknown} (known: {', '.join(FONT_STACKS)})"
            )
        choices = {n: {} for n in names}  # labels come from FONT_LABELS (translated)
    elif kind == "choice":
        raw_choices = raw.get("choices")
        if not isinstance(raw_choices, dict) or not raw_choices:
            raise ThemeError(f"{where}: setting {key!r} needs a choices object")
        if not all(re.match(r"^[a-z0-9][a-z0-9_-]{0,19}$", str(k)) for k in raw_choices):
            raise ThemeError(f"{where}: choice keys of {key!r} are lower-case letters, digits, '-' or '_'")
        choices = {str(k): _labels(v, f"{where}: choice {k!r} of {key!r}") for k, v in raw_choices.items()}
    spec = Setting(key, kind, _labels(raw.get("label"), f"{where}: label of {key!r}"), raw.get("default"), choices)
    if not spec.is_valid(spec.default):
        raise ThemeError(f"{where}: setting {key!r} has an invalid default {spec.default!r}")
    return spec


def load_manifest(path: Path, known_modules: tuple[str, ...]) -> Theme:
    """Read and validate ``<path>/theme.json``; raises ThemeError with the reason."""
    name = path.name
    where = f"themes/{name}/theme.json"
    if not THEME_NAME_RE.match(name):
        raise ThemeError(f"themes/{name}: folder names are 2–40 lower-case letters, digits, '-' or '_'")
    try:
        raw = json.loads((path / "theme.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ThemeError(f"{where}: missing") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ThemeError(f"{where}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise ThemeError(f"{where}: must be a JSON object")
    preview = raw.get("preview")
    if not isinstance(preview, str) or safe_join(str(path / "static"), preview) is None:
        raise ThemeError(f"{where}: 'preview' must name a file under static/")
    if not (path / "static" / preview).is_file():
        raise ThemeError(f"{where}: preview image static/{preview} is missing")
    raw_slots = raw.get("slots")
    if not isinstance(raw_slots, list) or not raw_slots:
        raise ThemeError(f"{where}: 'slots' must be a non-empty list")
    slots = []
    for item in raw_slots:
        if not isinstance(item, dict) or not re.match(r"^[a-z][a-z0-9_]{0,19}$", str(item.get("name", ""))):
            raise ThemeError(f"{where}: each slot needs a name (lower-case letters, digits, '_')")
        slots.append(Slot(item["name"], _labels(item.get("label"), f"{where}: label of slot {item['name']!r}")))
    if len({s.name for s in slots}) != len(slots):
        raise ThemeError(f"{where}: slot names must be unique")
    modules = raw.get("modules")
    if not isinstance(modules, list) or not modules or any(m not in known_modules for m in modules):
        raise ThemeError(f"{where}: 'modules' must list module types among {', '.join(known_modules)}")
    raw_settings = raw.get("settings", {})
    if not isinstance(raw_settings, dict):
        raise ThemeError(f"{where}: 'settings' must be an object")
    return Theme(
        name=name,
        path=path,
        names=_labels(raw.get("name"), f"{where}: name"),
        descriptions=_labels(raw.get("description"), f"{where}: description"),
        preview=preview,
        slots=tuple(slots),
        modules=tuple(dict.fromkeys(modules)),
        settings={key: _setting(key, value, where) for key, value in raw_settings.items()},
    )


class ThemeRegistry:
    """The themes of one app: manifests validated once, an environment per theme built on first use."""

    def __init__(self, root: str | Path, known_modules: tuple[str, ...]):
        self.root = Path(root).resolve()
        self.known_modules = known_modules
        self._themes: dict[str, Theme] = {}
        self._environments: dict[str, Environment] = {}
        self._asset_versions: dict[Path, str] = {}
        self._lock = threading.Lock()
        self.errors: dict[str, str] = {}

    def load(self) -> None:
        """(Re)read every manifest. A broken theme is skipped and logged; a broken ``default`` is fatal."""
        themes: dict[str, Theme] = {}
        errors: dict[str, str] = {}
        for path in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            try:
                themes[path.name] = load_manifest(path, self.known_modules)
            except ThemeError as exc:
                errors[path.name] = str(exc)
                log.error("theme %s skipped: %s", path.name, exc)
        if DEFAULT_THEME not in themes:
            raise ThemeError(errors.get(DEFAULT_THEME) or f"{self.root}/{DEFAULT_THEME}: the default theme is required")
        with self._lock:
            self._themes, self.errors = themes, errors
            self._environments.clear()
            self._asset_versions.clear()

    def get(self, name: str | None) -> Theme | None:
        return self._themes.get(name or "")

    def resolve(self, name: str | None) -> Theme:
        """The named theme, or ``default`` when it is unknown (e.g. a theme folder was removed)."""
        return self._themes.get(name or "") or self._themes[DEFAULT_THEME]

    def all(self) -> list[Theme]:
        """Every usable theme, ``default`` first."""
        return sorted(self._themes.values(), key=lambda t: (t.name != DEFAULT_THEME, t.name))

    def search_path(self, name: str) -> list[Path]:
        """Folders searched for the theme's templates, in order (theme, then default)."""
        chain = [self.resolve(name).name]
        if chain[0] != DEFAULT_THEME:
            chain.append(DEFAULT_THEME)
        return [self.root / theme / "templates" for theme in chain]

    def environment(self, name: str, app: Flask | None = None) -> Environment:
        """The Jinja environment of one theme: theme → default → shared mall templates; its own cache."""
        theme = self.resolve(name).name
        env = self._environments.get(theme)
        if env is None:
            app = app or current_app._get_current_object()
            loaders = [FileSystemLoader(str(p)) for p in self.search_path(theme)]
            env = app.jinja_env.overlay(
                loader=ChoiceLoader([*loaders, app.jinja_env.loader]), cache_size=TEMPLATE_CACHE_SIZE
            )
            with self._lock:
                env = self._environments.setdefault(theme, env)
        return env

    def static_file(self, name: str, filename: str) -> Path | None:
        """The asset ``filename`` of theme ``name`` (or of ``default``); None for unknown or unsafe paths."""
        theme = self.get(name)
        if theme is None or any(part.startswith(".") for part in filename.replace("\\", "/").split("/")):
            return None
        chain = [theme.name] if theme.name == DEFAULT_THEME else [theme.name, DEFAULT_THEME]
        for candidate in chain:
            folder = self.root / candidate / "static"
            joined = safe_join(str(folder), filename)
            if joined is None:
                return None
            path = Path(joined)
            if path.is_file() and path.resolve().is_relative_to(folder.resolve()):
                return path
        return None

    def asset_version(self, path: Path, *, fresh: bool = False) -> str:
        """A short token that changes when the file does (for cache-busting URLs); ``fresh`` re-reads
        the file's stat instead of the per-process memo (development, where CSS is being edited)."""
        version = None if fresh else self._asset_versions.get(path)
        if version is None:
            stat = path.stat()
            version = f"{int(stat.st_mtime):x}{stat.st_size:x}"
            self._asset_versions[path] = version
        return version


def init_themes(app: Flask) -> ThemeRegistry:
    """Load and validate ``MALL_THEMES_PATH`` (default: ``themes/`` beside the package) once per app."""
    root = app.config.setdefault("MALL_THEMES_PATH", str(Path(app.root_path).parent / "themes"))
    registry = ThemeRegistry(root, tuple(MODULE_TYPES))
    registry.load()
    app.extensions[EXTENSION_KEY] = registry
    return registry


def themes() -> ThemeRegistry:
    """The current app's theme registry."""
    return current_app.extensions[EXTENSION_KEY]
