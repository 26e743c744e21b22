"""Module types of a store home and the server-side validation of their settings.

A module is stored in the draft (and in each published version) as
``{"id", "type", "slot", "config"}``. ``clean_config`` turns a submitted form into
a config or raises ``ConfigInvalid`` with a translated message per field; nothing
is stored until every text field is valid, then uploads are stored through the
callables the service passes in.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mall.decoration.validation import (
    RICH_TEXT_MAX_LENGTH,
    clean_text,
    has_visible_content,
    is_media_path,
    link_problem,
    sanitize_html,
)
from mall.errors import DomainError
from mall.i18n import L_, _, ngettext
from mall.storage.services import Upload

MAX_SLIDES = 8
MAX_PICKED_PRODUCTS = 50


class DecorationError(DomainError):
    """A decoration change was refused; nothing was changed."""


class ConfigInvalid(DecorationError):
    """Some fields of a module or of the theme settings are invalid: ``errors`` maps field → message."""

    def __init__(self, errors: dict[str, str]):
        first_field, first_message = next(iter(errors.items()))
        super().__init__(first_message, field=first_field)
        self.errors = errors


@dataclass(frozen=True)
class Field:
    """One setting of a module type (``kind`` decides the input and the validation)."""

    name: str
    kind: str  # text, textarea, html, link, choice, number, ids, image, video, slides
    label: object
    required: bool = False
    max_length: int = 120
    choices: tuple[tuple[str, object], ...] = ()
    minimum: int = 0
    maximum: int = 0
    default: object = None
    help: object = None


@dataclass(frozen=True)
class ModuleType:
    code: str
    label: object
    description: object
    fields: tuple[Field, ...]
    check: Callable[[dict], dict[str, str]] | None = None

    def defaults(self) -> dict:
        return {f.name: f.default for f in self.fields if f.kind not in ("image", "video", "slides")}


def _product_grid_check(config: dict) -> dict[str, str]:
    if config["source"] == "category" and not config.get("category_id"):
        return {"category_id": _("Choose the store category to show.")}
    if config["source"] == "picked" and not config.get("product_ids"):
        return {"product_ids": _("Enter the numbers of the products to show.")}
    return {}


ALT = Field("alt", "text", L_("Image description (for screen readers)"), max_length=120, default="")
LINK = Field("link", "link", L_("Link (optional)"), help=L_("https://… or a page of this mall starting with /"))

MODULE_TYPES: dict[str, ModuleType] = {
    "banner": ModuleType(
        "banner",
        L_("Banner carousel"),
        L_("Large images that buyers swipe through, each with an optional link."),
        (
            Field("slides", "slides", L_("Slides"), required=True),
            Field(
                "aspect",
                "choice",
                L_("Shape"),
                choices=(("wide", L_("Wide (3:1)")), ("standard", L_("Standard (2:1)")), ("tall", L_("Tall (4:3)"))),
                default="wide",
            ),
        ),
    ),
    "product_grid": ModuleType(
        "product_grid",
        L_("Product grid"),
        L_("Products from a store category, hand-picked, the newest or the best-sellers."),
        (
            Field("title", "text", L_("Title"), max_length=60, default=""),
            Field(
                "source",
                "choice",
                L_("Products"),
                choices=(
                    ("newest", L_("Newest")),
                    ("best_sellers", L_("Best-sellers")),
                    ("category", L_("From a store category")),
                    ("picked", L_("Hand-picked")),
                ),
                default="newest",
            ),
            Field("category_id", "number", L_("Store category number"), minimum=1, maximum=2**62),
            Field(
                "product_ids",
                "ids",
                L_("Product numbers"),
                help=L_("Separated by commas, at most %(n)s.", n=MAX_PICKED_PRODUCTS),
            ),
            Field("limit", "number", L_("How many products"), minimum=2, maximum=24, default=8, required=True),
        ),
        check=_product_grid_check,
    ),
    "coupon_strip": ModuleType(
        "coupon_strip",
        L_("Coupon strip"),
        L_("The store's coupons that buyers can claim."),
        (Field("title", "text", L_("Title"), max_length=60, default=""),),
    ),
    "rich_text": ModuleType(
        "rich_text",
        L_("Rich text"),
        L_("Formatted text: headings, paragraphs, lists, links and images of this mall."),
        (
            Field(
                "html",
                "html",
                L_("Text (HTML)"),
                required=True,
                max_length=RICH_TEXT_MAX_LENGTH,
                help=L_("Allowed: p, h2–h4, strong, em, u, s, ul/ol/li, blockquote, a, img (from this mall), hr, br."),
            ),
        ),
    ),
    "image": ModuleType(
        "image",
        L_("Image with link"),
        L_("One image, optionally linking to a page."),
        (
            Field("image", "image", L_("Image"), required=True),
            ALT,
            LINK,
            Field("caption", "text", L_("Caption (optional)"), max_length=120, default=""),
        ),
    ),
    "video": ModuleType(
        "video",
        L_("Video"),
        L_("An MP4 or WebM video uploaded to the mall."),
        (
            Field("video", "video", L_("Video"), required=True, help=L_("MP4 or WebM.")),
            Field("title", "text", L_("Title (optional)"), max_length=80, default=""),
            Field("poster", "image", L_("Cover image (optional)")),
        ),
    ),
    "notice": ModuleType(
        "notice",
        L_("Store notice"),
        L_("A short announcement shown prominently."),
        (
            Field("text", "textarea", L_("Notice"), required=True, max_length=500),
            Field(
                "style",
                "choice",
                L_("Style"),
                choices=(("info", L_("Information")), ("promo", L_("Promotion")), ("warning", L_("Important"))),
                default="info",
            ),
        ),
    ),
}


def module_type(code: str) -> ModuleType:
    spec = MODULE_TYPES.get(code)
    if spec is None:
        raise DecorationError(_("Unknown module type."), field="type")
    return spec


Uploader = Callable[[Upload], str]  # stores the file, returns its media key (raises DomainError when refused)


def _clean_scalar(f: Field, raw: str | None, errors: dict[str, str]) -> object:
    """Text-like fields (everything but uploads and slides)."""
    if f.kind == "html":
        if raw and len(raw) > f.max_length:
            errors[f.name] = _("At most %(n)s characters.", n=f.max_length)
            return ""
        value = sanitize_html(raw)
        if f.required and not has_visible_content(value):
            errors[f.name] = _("Enter some text.")
        return value
    text = clean_text(raw, multiline=f.kind == "textarea")
    if f.kind in ("text", "textarea"):
        if len(text) > f.max_length:
            errors[f.name] = _("At most %(n)s characters.", n=f.max_length)
        elif f.required and not text:
            errors[f.name] = _("This field is required.")
        return text
    if f.kind == "link":
        problem = link_problem(text) if text else None
        if problem:
            errors[f.name] = problem
        return text
    if f.kind == "choice":
        allowed = [code for code, _label in f.choices]
        if not text:
            return f.default
        if text not in allowed:
            errors[f.name] = _("Choose one of the offered options.")
            return f.default
        return text
    if f.kind == "number":
        if not text:
            if f.required:
                errors[f.name] = _("This field is required.")
            return f.default
        if not text.isdigit() or not f.minimum <= int(text) <= f.maximum:
            errors[f.name] = _("Enter a whole number from %(lo)s to %(hi)s.", lo=f.minimum, hi=f.maximum)
            return f.default
        return int(text)
    if f.kind == "ids":
        parts = [p for p in text.replace(",", " ").replace("，", " ").split() if p]
        if any(not p.isdigit() or len(p) > 18 for p in parts):
            errors[f.name] = _("Enter product numbers separated by commas.")
            return []
        ids = list(dict.fromkeys(int(p) for p in parts))
        if len(ids) > MAX_PICKED_PRODUCTS:
            errors[f.name] = _("At most %(n)s products.", n=MAX_PICKED_PRODUCTS)
        return ids
    raise AssertionError(f"unknown field kind {f.kind}")


def _clean_slides(form: Mapping[str, str], files: Mapping[str, Upload], previous: list, errors: dict[str, str]):
    """Existing slides (edited, replaced or removed) plus an optional new one; uploads are returned pending."""
    slides: list[dict] = []
    pending: list[tuple[str, Upload, dict, str]] = []  # (form field, file, dict to fill, key)
    rows = [(str(i), dict(s)) for i, s in enumerate(previous or [])]
    if "slides-new-image" in files or clean_text(form.get("slides-new-link")) or clean_text(form.get("slides-new-alt")):
        rows.append(("new", {}))
    for index, slide in rows:
        prefix = f"slides-{index}-"
        if index != "new" and form.get(prefix + "remove"):
            continue
        link = clean_text(form.get(prefix + "link"))
        alt = clean_text(form.get(prefix + "alt"))
        problem = link_problem(link) if link else None
        if problem:
            errors[prefix + "link"] = problem
        if len(alt) > 120:
            errors[prefix + "alt"] = _("At most %(n)s characters.", n=120)
        slide.update(link=link, alt=alt)
        if prefix + "image" in files:
            pending.append((prefix + "image", files[prefix + "image"], slide, "image"))
        elif not slide.get("image"):
            errors[prefix + "image"] = _("Choose an image for this slide.")
        slides.append(slide)
    if not slides:
        errors.setdefault("slides-new-image", _("Add at least one image."))
    if len(slides) > MAX_SLIDES:
        errors["slides-new-image"] = _("A carousel holds at most %(n)s images.", n=MAX_SLIDES)
    return slides, pending


def clean_config(
    spec: ModuleType,
    form: Mapping[str, str],
    files: Mapping[str, Upload],
    previous: dict | None,
    *,
    store_image: Uploader,
    store_video: Uploader,
    video_problem: Callable[[str], str | None],
) -> dict:
    """Validate a submitted module form against ``spec`` and return the new config.

    Text fields are checked first; only when they are all valid are uploads stored.
    Raises ConfigInvalid (field → translated message) and then nothing was stored.
    """
    previous = previous or {}
    errors: dict[str, str] = {}
    config: dict = {}
    pending: list[tuple[str, Upload, dict, str, Uploader]] = []
    for f in spec.fields:
        if f.kind == "slides":
            config[f.name], slide_uploads = _clean_slides(form, files, previous.get(f.name), errors)
            pending += [(*item, store_image) for item in slide_uploads]
        elif f.kind in ("image", "video"):
            config[f.name] = previous.get(f.name)
            if f.name in files:
                pending.append(
                    (f.name, files[f.name], config, f.name, store_video if f.kind == "video" else store_image)
                )
            elif f.kind == "video" and clean_text(form.get(f.name + "_url")):
                path = clean_text(form.get(f.name + "_url"))
                problem = video_problem(path) if is_media_path(path) else None
                if not is_media_path(path) or problem:
                    errors[f.name + "_url"] = problem or _("Only videos uploaded to this mall (/media/…) can be used.")
                else:
                    config[f.name] = path[len("/media/") :]
            elif f.kind == "image" and form.get(f.name + "_remove") and not f.required:
                config[f.name] = None
            if f.required and not config[f.name] and f.name not in files and f.name + "_url" not in errors:
                errors[f.name] = _("Choose a file.")
        else:
            config[f.name] = _clean_scalar(f, form.get(f.name), errors)
    if not errors and spec.check:
        errors.update(spec.check(config))
    if errors:
        raise ConfigInvalid(errors)
    for field_name, upload, target, key, store in pending:
        try:
            target[key] = store(upload)
        except DomainError as error:
            raise ConfigInvalid({field_name: error.message}) from error
    return config


def summary(module: dict) -> str:
    """One line describing a module in the editor's list."""
    config = module.get("config") or {}
    kind = module.get("type")
    if kind == "banner":
        count = len(config.get("slides") or [])
        return ngettext("%(num)s image", "%(num)s images", count)
    if kind == "product_grid":
        source = dict(MODULE_TYPES["product_grid"].fields[1].choices).get(config.get("source"), "")
        return " · ".join(str(part) for part in (config.get("title"), source) if part)
    if kind == "rich_text":
        text = re.sub(r"<[^>]*>", " ", config.get("html") or "")
        return _shorten(html_lib.unescape(text))
    if kind == "image":
        return _shorten(config.get("caption") or config.get("alt") or config.get("link") or "")
    if kind in ("video", "coupon_strip"):
        return _shorten(config.get("title") or "")
    if kind == "notice":
        return _shorten(config.get("text") or "")
    return ""


def _shorten(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
