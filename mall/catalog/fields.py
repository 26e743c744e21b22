"""Checking what operators type into the taxonomy and home-page forms: plain text, addresses (slugs),
lists of options and commission percentages. Problems are collected per field and raised together
as ``TaxonomyInvalid``, so a form shows every mistake at once and nothing is written."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from mall.decoration.validation import clean_text
from mall.errors import DomainError
from mall.i18n import _
from mall.storage.services import Upload, UploadRejected, store_upload

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_LIST_SEPARATORS = re.compile(r"[\n,，、;；]")


class TaxonomyError(DomainError):
    pass


class TaxonomyInvalid(TaxonomyError):
    """Several fields are wrong at once: ``errors`` maps each field to its (translated) message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(_("Please correct the marked fields."), field=next(iter(errors), None))
        self.errors = errors


def clean_field(
    errors: dict[str, str],
    name: str,
    value: Any,
    max_length: int,
    *,
    required: bool = False,
    multiline: bool = False,
) -> str | None:
    """Plain text without control characters, NFC-normalised and trimmed; None when empty.
    A problem is recorded in ``errors`` under ``name``."""
    text = clean_text(unicodedata.normalize("NFC", str(value or "")), multiline=multiline)
    if required and not text:
        errors[name] = _("This field is required.")
    elif len(text) > max_length:
        errors[name] = _("At most %(max)s characters (now %(n)s).", max=max_length, n=len(text))
    return text or None


def clean_slug(errors: dict[str, str], value: Any, max_length: int, *, name: str = "slug") -> str | None:
    """Lower-case letters, digits and single hyphens (stored lower-case)."""
    slug = unicodedata.normalize("NFKC", str(value or "")).strip().lower()
    if not slug:
        errors[name] = _("Give an address: lower-case letters, digits and hyphens, e.g. %(example)s.", example="tea")
    elif len(slug) > max_length:
        errors[name] = _("At most %(max)s characters (now %(n)s).", max=max_length, n=len(slug))
    elif not SLUG_RE.match(slug):
        errors[name] = _("Use lower-case letters, digits and single hyphens only, e.g. %(example)s.", example="tea-set")
    return slug or None


def clean_list(value: Iterable[str] | str | None) -> list[str]:
    """Options typed one per line or separated by commas: trimmed, empty ones dropped, duplicates
    (ignoring case and full-width forms) dropped keeping the first."""
    items = _LIST_SEPARATORS.split(value) if isinstance(value, str) else list(value or ())
    seen: set[str] = set()
    cleaned = []
    for item in items:
        text = clean_text(unicodedata.normalize("NFC", str(item or "")))
        key = unicodedata.normalize("NFKC", text).casefold()
        if text and key not in seen:
            seen.add(key)
            cleaned.append(text)
    return cleaned


def flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "y", "yes")
    return bool(value)


def parse_commission(value: Any) -> int | None:
    """A percentage typed by an operator ("5.5", "5.50 %", also in full-width digits) as exact basis
    points (550); empty means "inherit" (None). Refuses more than two decimals and anything outside
    0 to 100 %."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = unicodedata.normalize("NFKC", str(value or "")).strip().rstrip("%").strip()
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise TaxonomyError(_("Enter a percentage such as 5 or 5.5."), field="commission") from exc
    if not number.is_finite():
        raise TaxonomyError(_("Enter a percentage such as 5 or 5.5."), field="commission")
    if not Decimal(0) <= number <= Decimal(100):
        raise TaxonomyError(_("The commission is between 0 and 100 %."), field="commission")
    basis_points = number * 100
    if basis_points != basis_points.to_integral_value():
        raise TaxonomyError(_("At most two decimals, e.g. 5.25."), field="commission")
    return int(basis_points)


def format_commission(basis_points: int | None) -> str:
    """Basis points as a percentage with two decimals ("5.50"), "" for None (inherit)."""
    if basis_points is None:
        return ""
    return f"{Decimal(basis_points) / 100:.2f}"


def store_image_field(upload: Upload, *, purpose: str, field: str) -> int:
    """Store an uploaded public image (brand logo, banner slide); a refused file is a form error on
    ``field``. Call it only once every text field is valid, so a refused form stores nothing."""
    try:
        return store_upload(upload.data, upload.filename, purpose=purpose).id
    except UploadRejected as error:
        raise TaxonomyInvalid({field: error.message}) from error
