"""Store settings (M-02): the store's own profile, applied at once.

The profile (``StoreProfile``, one row in the store's schema) is checked as a whole and written only when
every field is valid. The name and address (slug) live on the platform's ``Merchant`` row and change only
through review: see ``mall.merchants.store_changes``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from mall.audit.services import diff, record_audit
from mall.catalog.cache import invalidate_catalog_pages
from mall.catalog.money import parse_yuan
from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import _
from mall.identity.models import User
from mall.merchants.models import Merchant, StoreProfile
from mall.merchants.services import require_staff_permission
from mall.storage.models import StoredObject
from mall.storage.services import (
    Upload,
    UploadRejected,
    sniff,
    store_upload,
)
from mall.tenancy.binding import require_merchant_id

TEXT_FIELDS = (
    "intro",
    "province",
    "city",
    "district",
    "address",
    "service_phone",
    "service_hours",
    "pickup_address",
    "return_contact",
    "return_phone",
    "return_address",
    "notice",
)
PROFILE_FIELDS = (*TEXT_FIELDS, "latitude", "longitude", "offers_express", "offers_pickup")
MULTILINE = {"intro", "notice"}
MAX_LENGTH = {
    "intro": 2000,
    "province": 40,
    "city": 40,
    "district": 40,
    "address": 200,
    "service_phone": 30,
    "service_hours": 100,
    "pickup_address": 200,
    "return_contact": 60,
    "return_phone": 30,
    "return_address": 200,
    "notice": 500,
}
# Mainland mobile, landline with area code (and extension), 400/800 service numbers, or international.
SERVICE_PHONE_RE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(?:-\d{1,6})?|[48]00-?\d{3}-?\d{4}|\+[1-9]\d{7,14})$")
COORDINATE_STEP = Decimal("0.000001")  # the columns are Numeric(9, 6)
IMAGE_PURPOSES = {"logo": "store-logo", "banner": "store-banner"}


class StoreSettingsError(DomainError):
    pass


class StoreSettingsInvalid(StoreSettingsError):
    """Several fields are wrong at once: ``errors`` maps each field to its (translated) message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(_("Please correct the marked fields."))
        self.errors = errors


def get_store_profile() -> StoreProfile | None:
    """The bound store's profile row, or None before its first save."""
    require_merchant_id()
    return db.session.scalar(select(StoreProfile).order_by(StoreProfile.id).limit(1))


def profile_values(profile: StoreProfile | None) -> dict[str, Any]:
    """The profile's fields as a dict (the defaults of a new store when ``profile`` is None)."""
    if profile is None:
        return {**dict.fromkeys(PROFILE_FIELDS), "offers_express": True, "offers_pickup": False}
    return {name: getattr(profile, name) for name in PROFILE_FIELDS}


def profile_images(profile: StoreProfile | None) -> dict[str, StoredObject | None]:
    """The stored logo and banner objects of ``profile`` (None where there is none)."""
    images: dict[str, StoredObject | None] = dict.fromkeys(IMAGE_PURPOSES)
    if profile is not None:
        for kind in IMAGE_PURPOSES:
            file_id = getattr(profile, f"{kind}_file_id")
            images[kind] = db.session.get(StoredObject, file_id) if file_id else None
    return images


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "y", "yes")
    return bool(value)


def _plain_text(name: str, value: Any) -> str | None:
    """Trimmed plain text, or None when empty; raises ValueError with the field's message."""
    text = unicodedata.normalize("NFC", str(value or "")).replace("\r\n", "\n").replace("\r", "\n").strip()
    allowed = {"\n", "\t"} if name in MULTILINE else set()
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text):
        raise ValueError(_("This text contains control characters; remove them."))
    if len(text) > MAX_LENGTH[name]:
        raise ValueError(_("At most %(max)s characters (now %(n)s).", max=MAX_LENGTH[name], n=len(text)))
    return text or None


def _coordinate(value: Any, limit: int) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(_("Enter a number, e.g. 31.230416.")) from exc
    if not number.is_finite():
        raise ValueError(_("Enter a number, e.g. 31.230416."))
    if not -limit <= number <= limit:
        raise ValueError(_("Between -%(limit)s and %(limit)s.", limit=limit))
    return number.quantize(COORDINATE_STEP, rounding=ROUND_HALF_UP)


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    compact = re.sub(r"\s+", "", value)
    if not SERVICE_PHONE_RE.match(compact):
        raise ValueError(_("Enter a mobile number or a landline with its area code, e.g. 021-12345678."))
    return compact


def clean_profile(data: Mapping[str, Any]) -> dict[str, Any]:
    """Check every field of a profile and return the cleaned values; raise ``StoreSettingsInvalid``
    with one message per wrong field (nothing is written here)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        try:
            values[name] = _plain_text(name, data.get(name))
        except ValueError as exc:
            errors[name] = str(exc)
    for name in ("service_phone", "return_phone"):
        if name not in errors:
            try:
                values[name] = _phone(values[name])
            except ValueError as exc:
                errors[name] = str(exc)
    for name, limit in (("latitude", 90), ("longitude", 180)):
        try:
            values[name] = _coordinate(data.get(name), limit)
        except ValueError as exc:
            errors[name] = str(exc)
    values["offers_express"] = _flag(data.get("offers_express"))
    values["offers_pickup"] = _flag(data.get("offers_pickup"))
    _check_rules(values, errors)
    if errors:
        raise StoreSettingsInvalid(errors)
    return values


def _missing(values: dict[str, Any], errors: dict[str, str], names: tuple[str, ...], message: str) -> None:
    for name in names:
        if values.get(name) is None and name not in errors:
            errors[name] = message


def _check_rules(values: dict[str, Any], errors: dict[str, str]) -> None:
    """Rules between fields: address parts, coordinates in pairs, delivery options, return address."""
    address = ("province", "city", "district", "address")
    if any(values.get(n) for n in address):
        _missing(values, errors, ("province", "city", "address"), _("Give the province, city and street address."))
    coordinates = ("latitude", "longitude")
    if any(values.get(n) is not None for n in coordinates):
        _missing(values, errors, coordinates, _("Give both latitude and longitude, or neither."))
    if not values["offers_express"] and not values["offers_pickup"]:
        errors.setdefault("offers_express", _("Offer at least one way to deliver: express or store pick-up."))
    if values["offers_pickup"]:
        _missing(values, errors, ("pickup_address",), _("Give the address where buyers pick up their orders."))
    returns = ("return_contact", "return_phone", "return_address")
    if any(values.get(n) for n in returns):
        _missing(values, errors, returns, _("Give the contact, phone and address for returns, or none of them."))


def _check_image(upload: Upload) -> None:
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    if not upload.data:
        raise UploadRejected(_("The file is empty."))
    if len(upload.data) > limit:
        raise UploadRejected(_("The file is larger than %(mb)s MB.", mb=round(limit / 1024 / 1024, 1)))
    sniff(upload.data)


def update_store_profile(
    actor: User,
    data: Mapping[str, Any],
    *,
    logo: Upload | None = None,
    banner: Upload | None = None,
    remove_logo: bool = False,
    remove_banner: bool = False,
) -> StoreProfile:
    """Apply new settings to the bound store at once (the row is created on the first save), audited.

    ``data`` may hold only some fields: the others keep their values, and the rules are checked on the
    result. All or nothing: any wrong field or image raises ``StoreSettingsInvalid`` before anything
    (row or file) is written. A new logo or banner replaces the old file id; the old file is kept.
    """
    merchant_id = require_merchant_id()
    require_staff_permission(actor, "store.manage")
    # Serialises saves of one store, so two first saves cannot create two profile rows.
    db.session.execute(select(Merchant.id).where(Merchant.id == merchant_id).with_for_update(key_share=True))
    profile = get_store_profile()
    before = profile_values(profile)
    errors: dict[str, str] = {}
    try:
        values = clean_profile({**before, **{k: v for k, v in data.items() if k in PROFILE_FIELDS}})
    except StoreSettingsInvalid as invalid:
        errors, values = invalid.errors, {}
    uploads = {"logo": logo, "banner": banner}
    for kind, upload in uploads.items():
        if upload is not None:
            try:
                _check_image(upload)
            except UploadRejected as exc:
                errors[kind] = exc.message
    if errors:
        raise StoreSettingsInvalid(errors)
    before_files = {f"{k}_file_id": getattr(profile, f"{k}_file_id", None) for k in IMAGE_PURPOSES}
    if profile is None:
        profile = StoreProfile()
        db.session.add(profile)
    for name, value in values.items():
        setattr(profile, name, value)
    for kind, remove in (("logo", remove_logo), ("banner", remove_banner)):
        upload = uploads[kind]
        if upload is not None:
            stored = store_upload(
                upload.data,
                upload.filename,
                purpose=IMAGE_PURPOSES[kind],
                owner_id=actor.id,
                merchant_id=merchant_id,
            )
            setattr(profile, f"{kind}_file_id", stored.id)
        elif remove:
            setattr(profile, f"{kind}_file_id", None)
    changes = diff(
        {**before, **before_files},
        {**values, **{f"{k}_file_id": getattr(profile, f"{k}_file_id") for k in IMAGE_PURPOSES}},
    )
    if changes:
        profile.updated_at = func.now()
    db.session.flush()
    if changes:
        invalidate_catalog_pages(merchant_id)  # product pages show the store card (logo, phone)
        record_audit("store.settings", area="merchant", merchant_id=merchant_id, obj=profile, changes=changes)
    return profile


# ---------------------------------------------------------------------------------------------
# Express shipping fee rule
# ---------------------------------------------------------------------------------------------

MAX_SHIPPING_FEE_CENTS = 100_000  # ¥1,000


@dataclass(frozen=True)
class ShippingRule:
    fee_cents: int = 0
    free_over_cents: int | None = None  # orders of at least this many goods cents ship free

    def fee_for(self, goods_cents: int) -> int:
        """The express fee of a store order worth ``goods_cents``."""
        if self.free_over_cents is not None and goods_cents >= self.free_over_cents:
            return 0
        return self.fee_cents


def shipping_rule(profile: StoreProfile | None = None) -> ShippingRule:
    """The bound store's express fee rule (free shipping until the store sets one); pass the
    profile when it is at hand."""
    profile = profile or get_store_profile()
    if profile is None:
        return ShippingRule()
    return ShippingRule(profile.shipping_fee_cents or 0, profile.free_shipping_over_cents)


def update_shipping_rule(actor: User, fee: str | None, free_over: str | None) -> ShippingRule:
    """Set the bound store's express fee (yuan text) and the order value from which shipping is free
    (empty: never free). Audited; ``StoreSettingsInvalid`` names wrong fields, nothing written."""
    merchant_id = require_merchant_id()
    require_staff_permission(actor, "store.manage")
    errors: dict[str, str] = {}
    fee_cents, free_cents = 0, None
    try:
        fee_cents = parse_yuan(fee if (fee or "").strip() else "0", field="shipping_fee")
        if fee_cents > MAX_SHIPPING_FEE_CENTS:
            errors["shipping_fee"] = _("At most ¥%(n)s.", n="1,000.00")
    except DomainError as error:
        errors["shipping_fee"] = error.message
    if (free_over or "").strip():
        try:
            free_cents = parse_yuan(free_over, field="free_shipping_over")
        except DomainError as error:
            errors["free_shipping_over"] = error.message
    if errors:
        raise StoreSettingsInvalid(errors)
    db.session.execute(select(Merchant.id).where(Merchant.id == merchant_id).with_for_update(key_share=True))
    profile = get_store_profile()
    if profile is None:
        profile = StoreProfile()
        db.session.add(profile)
    before = {
        "shipping_fee_cents": profile.shipping_fee_cents or 0,
        "free_shipping_over_cents": profile.free_shipping_over_cents,
    }
    after = {"shipping_fee_cents": fee_cents, "free_shipping_over_cents": free_cents}
    changes = diff(before, after)
    profile.shipping_fee_cents, profile.free_shipping_over_cents = fee_cents, free_cents
    db.session.flush()
    if changes:
        record_audit("store.shipping", area="merchant", merchant_id=merchant_id, obj=profile, changes=changes)
    return ShippingRule(fee_cents, free_cents)
