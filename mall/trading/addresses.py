"""The shopper's address book (C-03): several delivery addresses, one of them the default.

Every function takes the shopper's user id and only ever touches that shopper's rows: another
shopper's address id is simply not found. Writes are checked as a whole: ``AddressInvalid`` carries
one translated message per wrong field and nothing is written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, update

from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import _
from mall.identity.models import User
from mall.identity.services import PHONE_RE, normalise_phone
from mall.trading.models import Address

MAX_ADDRESSES = 20
FIELDS = {  # name → (max length, required)
    "recipient": (30, True),
    "phone": (20, True),
    "province": (30, True),
    "city": (30, True),
    "district": (30, False),
    "detail": (200, True),
    "postcode": (10, False),
    "label": (20, False),
}
POSTCODE_RE = re.compile(r"^\d{6}$")


class AddressInvalid(DomainError):
    """Several fields are wrong at once: ``errors`` maps each field to its (translated) message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(_("Please correct the marked fields."))
        self.errors = errors


def _text(value: Any) -> str | None:
    """Trimmed single-line text without control characters; None when empty."""
    if value is None:
        return None
    text = re.sub(r"\s+", " ", str(value))  # tabs and line breaks are spaces
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip()
    return text or None


def clean_address(data: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned fields of an address, or ``AddressInvalid`` with one message per wrong field."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, (limit, required) in FIELDS.items():
        value = _text(data.get(name))
        if value is None and required:
            errors[name] = _("This field is required.")
        elif value is not None and len(value) > limit:
            errors[name] = _("At most %(n)d characters.", n=limit)
        values[name] = value
    if "phone" not in errors:
        values["phone"] = normalise_phone(values["phone"])
        if not PHONE_RE.match(values["phone"] or ""):
            errors["phone"] = _("Enter a mobile number: 11 digits starting with 1, or + and the country code.")
    if values.get("postcode") and "postcode" not in errors and not POSTCODE_RE.match(values["postcode"]):
        errors["postcode"] = _("A postcode has 6 digits.")
    if errors:
        raise AddressInvalid(errors)
    return values


def addresses_of(user_id: int) -> list[Address]:
    """The shopper's addresses, the default first, then the most recently changed."""
    return list(
        db.session.scalars(
            select(Address)
            .where(Address.user_id == user_id)
            .order_by(Address.is_default.desc(), Address.updated_at.desc(), Address.id.desc())
        )
    )


def get_address(user_id: int, address_id: int) -> Address:
    address = db.session.scalar(select(Address).where(Address.id == address_id, Address.user_id == user_id))
    if address is None:
        raise NotFound(_("This address is not in your address book."))
    return address


def default_address(user_id: int) -> Address | None:
    return db.session.scalar(select(Address).where(Address.user_id == user_id, Address.is_default.is_(True)))


def _lock_book(user_id: int) -> None:
    """Serialise changes to one shopper's book (the count limit and the single default)."""
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update())


def add_address(user_id: int, data: Mapping[str, Any], *, make_default: bool = False) -> Address:
    """Add an address; the first one, or one asked to be, becomes the default."""
    values = clean_address(data)
    _lock_book(user_id)
    count = db.session.scalar(select(func.count()).where(Address.user_id == user_id))
    if count >= MAX_ADDRESSES:
        raise DomainError(_("Your address book is full (%(n)d addresses). Delete one first.", n=MAX_ADDRESSES))
    if make_default or count == 0:
        _clear_default(user_id)
    address = Address(user_id=user_id, is_default=make_default or count == 0, **values)
    db.session.add(address)
    db.session.flush()
    return address


def update_address(user_id: int, address_id: int, data: Mapping[str, Any], *, make_default: bool = False) -> Address:
    values = clean_address(data)
    _lock_book(user_id)
    address = get_address(user_id, address_id)
    for name, value in values.items():
        setattr(address, name, value)
    address.updated_at = func.now()
    if make_default and not address.is_default:
        _clear_default(user_id)
        address.is_default = True
    db.session.flush()
    return address


def set_default(user_id: int, address_id: int) -> Address:
    _lock_book(user_id)
    address = get_address(user_id, address_id)
    if not address.is_default:
        _clear_default(user_id)
        address.is_default = True
        db.session.flush()
    return address


def delete_address(user_id: int, address_id: int) -> None:
    """Delete an address; if it was the default, the most recently changed other one takes over."""
    _lock_book(user_id)
    address = get_address(user_id, address_id)
    was_default = address.is_default
    db.session.delete(address)
    db.session.flush()
    if was_default:
        successor = db.session.scalar(
            select(Address)
            .where(Address.user_id == user_id)
            .order_by(Address.updated_at.desc(), Address.id.desc())
            .limit(1)
        )
        if successor is not None:
            successor.is_default = True
            db.session.flush()


def _clear_default(user_id: int) -> None:
    db.session.execute(
        update(Address).where(Address.user_id == user_id, Address.is_default.is_(True)).values(is_default=False)
    )
