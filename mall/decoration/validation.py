"""What merchants type into their decoration, made safe: plain text, links and rich text.

Everything here runs on save (bad input is refused with a readable message) and
again when a page is rendered (defence in depth for versions saved by older code).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import nh3

from mall.i18n import _

MAX_LINK_LENGTH = 500
# Bidirectional overrides can disguise text; C0/C1 controls have no place in a shop page.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINK_FORBIDDEN = re.compile(r"[\s<>\"'`\\{}|^]")

RICH_TEXT_TAGS = {
    "p",
    "br",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "s",
    "h2",
    "h3",
    "h4",
    "ul",
    "ol",
    "li",
    "blockquote",
    "a",
    "hr",
    "img",
    "span",
    "sub",
    "sup",
}
RICH_TEXT_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}
RICH_TEXT_MAX_LENGTH = 20_000


def clean_text(value: str | None, *, multiline: bool = False) -> str:
    """Plain text as it will be shown (escaped at render): trimmed, without controls or bidi overrides."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    if not multiline:
        text = text.replace("\n", " ").replace("\t", " ")
    text = _CONTROL.sub("", _BIDI.sub("", text))
    return text.strip()


def link_problem(value: str) -> str | None:
    """Why ``value`` is not an acceptable link, or None. Accepted: http(s) URLs and site paths (``/…``)."""
    if len(value) > MAX_LINK_LENGTH:
        return _("Links can be at most %(n)s characters.", n=MAX_LINK_LENGTH)
    if not value.isprintable() or _LINK_FORBIDDEN.search(value):
        return _("Links cannot contain spaces, quotes, angle brackets or backslashes.")
    if value.startswith("/"):
        if value.startswith("//"):
            return _("A link to a page of this mall starts with a single “/”.")
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is not None and parts.scheme.lower() in ("http", "https") and parts.hostname and "@" not in parts.netloc:
        return None
    return _("Links must start with http://, https:// or / (a page of this mall).")


def is_safe_link(value: object) -> bool:
    """True for links that may be put in an ``href`` (used again when rendering)."""
    return isinstance(value, str) and bool(value) and link_problem(value) is None


def is_media_path(value: str) -> bool:
    """A path of this mall's public media (``/media/<key>``)."""
    return (
        value.startswith("/media/")
        and link_problem(value) is None
        and not any(part in ("", ".", "..") for part in value[len("/media/") :].split("/"))
    )


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "href":
        return value if is_safe_link(value) else None
    if attribute == "src":
        return value if is_media_path(value) else None  # images only from this mall's media
    if attribute in ("width", "height"):
        return value if value.isdigit() and 0 < int(value) <= 4000 else None
    return value


_CLEANER = nh3.Cleaner(
    tags=RICH_TEXT_TAGS,
    clean_content_tags={"script", "style", "template", "noscript", "iframe", "object", "embed", "svg", "math"},
    attributes=RICH_TEXT_ATTRIBUTES,
    attribute_filter=_keep_attribute,
    url_schemes={"http", "https"},
    link_rel="noopener noreferrer nofollow ugc",
    strip_comments=True,
)


def sanitize_html(html: str | None) -> str:
    """Rich text reduced to an allow-list of tags and attributes (nh3); links and images checked."""
    return _CLEANER.clean(_BIDI.sub("", html or "")).strip()


def has_visible_content(html: str) -> bool:
    """Whether sanitised HTML shows anything (text or an image)."""
    return "<img" in html or bool(re.sub(r"<[^>]*>|&nbsp;|\s", "", html))
