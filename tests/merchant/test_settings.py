"""Store settings (M-02): validation per field, all-or-nothing saves, coordinates, delivery rules, images,
permissions and the operation log."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from mall.audit.models import AuditEntry
from mall.errors import PermissionDenied
from mall.extensions import db as _db
from mall.merchants import settings, store_changes
from mall.merchants.models import StaffRole, StoreProfile
from mall.storage.models import StoredObject
from mall.tenancy import tenant
from tests.conftest import csrf_token
from tests.merchant.helpers import add_staff_member, area_client, field_errors, png

EN = {"Accept-Language": "en"}
VALID = {
    "intro": "Green and black teas from Fujian.\nFamily business since 1998.",
    "province": "Shanghai",
    "city": "Shanghai",
    "district": "Huangpu",
    "address": "1 Nanjing East Road",
    "latitude": "31.230416",
    "longitude": "121.473701",
    "service_phone": "021-12345678",
    "service_hours": "9:00–21:00",
    "offers_express": True,
    "offers_pickup": True,
    "pickup_address": "1 Nanjing East Road, shop 3",
    "return_contact": "Ms Wang",
    "return_phone": "13800138000",
    "return_address": "2 Warehouse Lane, Songjiang",
    "notice": "Closed on 1 January.",
}


def profile_rows(merchant_id: int) -> list[StoreProfile]:
    with tenant(merchant_id):
        return list(_db.session.scalars(select(StoreProfile)))


def settings_audits(db, merchant_id: int) -> list[AuditEntry]:
    return db.session.scalars(
        select(AuditEntry).where(AuditEntry.merchant_id == merchant_id, AuditEntry.action == "store.settings")
    ).all()


def save(store, data, **kw):
    with tenant(store.merchant.id):
        return settings.update_store_profile(store.owner, data, **kw)


# --- services ---------------------------------------------------------------------------------------


def test_first_save_creates_the_profile_and_is_audited_with_a_diff(db, store):
    with tenant(store.merchant.id):
        assert settings.get_store_profile() is None
    profile = save(store, VALID)
    assert profile.latitude == Decimal("31.230416") and profile.longitude == Decimal("121.473701")
    assert profile.offers_pickup is True and profile.service_phone == "021-12345678"
    assert len(profile_rows(store.merchant.id)) == 1
    (entry,) = settings_audits(db, store.merchant.id)
    assert entry.changes["city"] == [None, "Shanghai"]
    assert entry.changes["latitude"] == [None, "31.230416"]
    assert "offers_express" not in entry.changes  # the default was already express

    save(store, {"city": "Shanghai", "service_hours": "10:00–22:00"})  # only what is given changes
    assert len(profile_rows(store.merchant.id)) == 1
    entries = settings_audits(db, store.merchant.id)
    assert len(entries) == 2 and entries[-1].changes == {"service_hours": ["9:00–21:00", "10:00–22:00"]}
    with tenant(store.merchant.id):
        assert settings.get_store_profile().intro == VALID["intro"]


BAD_FIELDS = [
    ({"intro": "x" * 2001}, {"intro": "At most 2000 characters (now 2001)."}),
    ({"intro": "bell\x07"}, {"intro": "This text contains control characters; remove them."}),
    ({"notice": "n" * 501}, {"notice": "At most 500 characters (now 501)."}),
    ({"province": "p" * 41}, {"province": "At most 40 characters (now 41)."}),
    ({"address": "a" * 201}, {"address": "At most 200 characters (now 201)."}),
    (
        {"province": "", "city": "Hangzhou", "address": ""},
        {
            "province": "Give the province, city and street address.",
            "address": "Give the province, city and street address.",
        },
    ),
    ({"latitude": "north"}, {"latitude": "Enter a number, e.g. 31.230416."}),
    ({"latitude": "NaN"}, {"latitude": "Enter a number, e.g. 31.230416."}),
    ({"latitude": "90.000001"}, {"latitude": "Between -90 and 90."}),
    ({"longitude": "-180.5"}, {"longitude": "Between -180 and 180."}),
    ({"latitude": "30", "longitude": ""}, {"longitude": "Give both latitude and longitude, or neither."}),
    ({"latitude": "", "longitude": "120"}, {"latitude": "Give both latitude and longitude, or neither."}),
    (
        {"service_phone": "12345"},
        {"service_phone": "Enter a mobile number or a landline with its area code, e.g. 021-12345678."},
    ),
    ({"service_hours": "h" * 101}, {"service_hours": "At most 100 characters (now 101)."}),
    (
        {"offers_express": False, "offers_pickup": False},
        {"offers_express": "Offer at least one way to deliver: express or store pick-up."},
    ),
    (
        {"offers_pickup": True, "pickup_address": " "},
        {"pickup_address": "Give the address where buyers pick up their orders."},
    ),
    (
        {"return_contact": "Mr Li", "return_phone": "", "return_address": ""},
        {
            "return_phone": "Give the contact, phone and address for returns, or none of them.",
            "return_address": "Give the contact, phone and address for returns, or none of them.",
        },
    ),
    (
        {"return_phone": "call me"},
        {"return_phone": "Enter a mobile number or a landline with its area code, e.g. 021-12345678."},
    ),
]


@pytest.mark.parametrize(("change", "errors"), BAD_FIELDS)
def test_each_bad_field_has_its_message_and_nothing_is_written(app, db, store, change, errors):
    with app.test_request_context(headers=EN), pytest.raises(settings.StoreSettingsInvalid) as caught:
        save(store, {**VALID, **change})
    assert caught.value.errors == errors
    assert profile_rows(store.merchant.id) == []
    assert settings_audits(db, store.merchant.id) == []


def test_a_bad_field_leaves_an_existing_profile_untouched(app, db, store):
    save(store, VALID)
    with app.test_request_context(headers=EN), pytest.raises(settings.StoreSettingsInvalid) as caught:
        save(store, {"notice": "new notice", "latitude": "100", "offers_express": False, "offers_pickup": False})
    assert set(caught.value.errors) == {"latitude", "offers_express"}  # every wrong field at once
    db.session.expire_all()
    (profile,) = profile_rows(store.merchant.id)
    assert profile.notice == VALID["notice"] and profile.latitude == Decimal("31.230416")
    assert len(settings_audits(db, store.merchant.id)) == 1


@pytest.mark.parametrize(
    ("latitude", "longitude", "stored"),
    [
        ("31.2304164", "121.4737006", (Decimal("31.230416"), Decimal("121.473701"))),  # rounded to 6 places
        ("-90", "180", (Decimal("-90.000000"), Decimal("180.000000"))),  # the limits are valid
        (" 0 ", "-0.5", (Decimal("0.000000"), Decimal("-0.500000"))),
        (Decimal("22.543096"), Decimal("114.057865"), (Decimal("22.543096"), Decimal("114.057865"))),
        ("", "", (None, None)),  # neither is fine
    ],
)
def test_coordinates_are_exact_decimals(db, store, latitude, longitude, stored):
    save(store, {**VALID, "latitude": latitude, "longitude": longitude})
    db.session.expire_all()
    (profile,) = profile_rows(store.merchant.id)
    assert (profile.latitude, profile.longitude) == stored
    assert profile.latitude is None or isinstance(profile.latitude, Decimal)


@pytest.mark.parametrize(
    ("express", "pickup", "pickup_address"),
    [(True, False, None), (False, True, "Shop 3"), (True, True, "Shop 3"), ("on", "", "")],
)
def test_delivery_options_that_are_allowed(db, store, express, pickup, pickup_address):
    profile = save(
        store, {**VALID, "offers_express": express, "offers_pickup": pickup, "pickup_address": pickup_address}
    )
    assert profile.offers_express is bool(express) and profile.offers_pickup is bool(pickup)


def test_phone_formats(db, store):
    for phone in ("13800138000", "010-87654321", "0755 8765 4321", "400-123-4567", "+85221234567", "021-1234567-88"):
        assert save(store, {"service_phone": phone}).service_phone == phone.replace(" ", "")


def test_staff_without_store_manage_cannot_save(db, store, make_user):
    clerk = make_user()
    add_staff_member(db, store.merchant, clerk, "orders")
    with tenant(store.merchant.id), pytest.raises(PermissionDenied):
        settings.update_store_profile(clerk, VALID)
    assert profile_rows(store.merchant.id) == []


# --- the page ---------------------------------------------------------------------------------------


def form_data(data: dict, token: str) -> dict:
    out = {"csrf_token": token}
    for key, value in data.items():
        if isinstance(value, bool):
            if value:
                out[key] = "y"
        else:
            out[key] = value
    return out


def test_settings_page_saves_and_shows_in_the_operation_log(app, db, store):
    client = area_client(app, store.owner, "merchant")
    page = client.get("/merchant/settings")
    assert page.status_code == 200 and 'href="/merchant/settings"' in page.get_data(as_text=True)  # sidebar
    token = csrf_token(client, "/merchant/settings")
    response = client.post("/merchant/settings", data=form_data(VALID, token))
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    page = client.get("/merchant/settings").get_data(as_text=True)
    assert "1 Nanjing East Road, shop 3" in page and "121.473701" in page and "Store settings saved." in page
    (profile,) = profile_rows(store.merchant.id)
    assert profile.return_contact == "Ms Wang"
    oplog = client.get("/merchant/oplog").get_data(as_text=True)
    assert "store.settings" in oplog and "Ms Wang" in oplog


def test_bad_form_shows_every_error_and_writes_nothing(app, db, store):
    client = area_client(app, store.owner, "merchant")
    token = csrf_token(client, "/merchant/settings")
    bad = {
        **VALID,
        "latitude": "95",
        "offers_express": False,
        "offers_pickup": True,
        "pickup_address": "",
        "notice": "x" * 600,
    }
    response = client.post("/merchant/settings", data=form_data(bad, token))
    assert response.status_code == 400
    errors = field_errors(response.get_data(as_text=True))
    assert "Between -90 and 90." in errors
    assert "Give the address where buyers pick up their orders." in errors
    assert "At most 500 characters (now 600)." in errors
    assert profile_rows(store.merchant.id) == [] and settings_audits(db, store.merchant.id) == []


def upload(client, token: str, **files):
    data = form_data(VALID, token)
    for name, content in files.items():
        data[name] = (io.BytesIO(content), f"{name}.png")
    return client.post("/merchant/settings", data=data, content_type="multipart/form-data")


def test_logo_upload_replaces_the_old_one_and_is_served(app, db, store):
    client = area_client(app, store.owner, "merchant")
    token = csrf_token(client, "/merchant/settings")
    first = png(color=(10, 120, 10))
    assert upload(client, token, logo=first, banner=png(1200, 300)).status_code == 302
    (profile,) = profile_rows(store.merchant.id)
    old = db.session.get(StoredObject, profile.logo_file_id)
    assert (old.purpose, old.is_private, old.merchant_id) == ("store-logo", False, store.merchant.id)
    banner = db.session.get(StoredObject, profile.banner_file_id)
    assert banner.purpose == "store-banner" and banner.width == 1200
    served = client.get(f"/media/{old.key}")
    assert served.status_code == 200 and served.data == first and served.mimetype == "image/png"

    second = png(color=(10, 10, 200))
    assert upload(client, token, logo=second).status_code == 302
    db.session.expire_all()
    (profile,) = profile_rows(store.merchant.id)
    new = db.session.get(StoredObject, profile.logo_file_id)
    assert new.id != old.id and profile.banner_file_id == banner.id  # the banner is kept
    assert app.test_client().get(f"/media/{new.key}").data == second  # public: anyone may load it
    page = client.get("/merchant/settings").get_data(as_text=True)
    assert f"/media/{new.key}" in page and f"/media/{old.key}" not in page
    entry = settings_audits(db, store.merchant.id)[-1]
    assert entry.changes == {"logo_file_id": [old.id, new.id]}


def test_a_file_that_is_not_an_image_is_refused_and_nothing_changes(app, db, store):
    client = area_client(app, store.owner, "merchant")
    token = csrf_token(client, "/merchant/settings")
    before = db.session.scalar(select(func.count(StoredObject.id)))
    response = upload(client, token, logo=png(), banner=b"<script>alert(1)</script>")
    assert response.status_code == 400
    assert "This file is not a valid image; allowed: JPEG, PNG, WebP or GIF." in field_errors(
        response.get_data(as_text=True)
    )
    assert db.session.scalar(select(func.count(StoredObject.id))) == before  # not even the valid logo
    assert profile_rows(store.merchant.id) == []


def test_removing_the_banner(app, db, store):
    client = area_client(app, store.owner, "merchant")
    token = csrf_token(client, "/merchant/settings")
    upload(client, token, banner=png(800, 200))
    response = client.post("/merchant/settings", data={**form_data(VALID, token), "remove_banner": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    assert profile_rows(store.merchant.id)[0].banner_file_id is None


# --- who may open it --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["product", "orders", "service", "finance"])
def test_staff_without_store_manage_get_403(app, db, store, make_user, role):
    clerk = make_user()
    add_staff_member(db, store.merchant, clerk, role)
    client = area_client(app, clerk, "merchant")
    assert client.get("/merchant/").status_code == 200
    assert 'href="/merchant/settings"' not in client.get("/merchant/").get_data(as_text=True)
    assert client.get("/merchant/settings").status_code == 403
    token = csrf_token(client, "/merchant/")
    assert client.post("/merchant/settings", data=form_data(VALID, token)).status_code == 403
    assert client.post("/merchant/settings/changes/name", data={"name": "Mine", "csrf_token": token}).status_code == 403
    assert profile_rows(store.merchant.id) == []


def test_custom_role_with_store_manage_may_edit(app, db, store, make_user):
    with tenant(store.merchant.id):
        role = StaffRole(name="Decorator", permissions=["store.manage"])
        db.session.add(role)
        db.session.flush()
    decorator = make_user()
    add_staff_member(db, store.merchant, decorator, role_id=role.id)
    client = area_client(app, decorator, "merchant")
    token = csrf_token(client, "/merchant/settings")
    assert client.post("/merchant/settings", data=form_data(VALID, token)).status_code == 302
    entry = settings_audits(db, store.merchant.id)[0]
    assert entry.actor_id == decorator.id


def test_another_stores_staff_can_neither_see_nor_alter(app, db, store, make_store):
    save(store, {**VALID, "notice": "Only for Tea House"})
    with tenant(store.merchant.id):
        change = store_changes.request_store_change(store.owner, "name", "Tea Palace")
    other = make_store("Book Corner", slug="book-corner")
    client = area_client(app, other.owner, "merchant")
    page = client.get("/merchant/settings").get_data(as_text=True)
    assert "Only for Tea House" not in page and "Tea Palace" not in page and "Book Corner" in page
    token = csrf_token(client, "/merchant/settings")
    assert client.post(f"/merchant/settings/changes/{change.id}/cancel", data={"csrf_token": token}).status_code == 404
    client.post("/merchant/settings", data=form_data({**VALID, "notice": "Books"}, token))
    db.session.expire_all()
    assert change.status == "pending"
    assert profile_rows(store.merchant.id)[0].notice == "Only for Tea House"
    assert profile_rows(other.merchant.id)[0].notice == "Books"
    assert {e.actor_id for e in settings_audits(db, store.merchant.id)} == {None}  # only the service call above


# --- the express shipping fee rule ------------------------------------------------------------------


def test_the_shipping_rule_prices_an_order_and_is_audited(db, store):
    with tenant(store.merchant.id):
        assert settings.shipping_rule().fee_for(1) == 0  # free until the store sets a fee
        rule = settings.update_shipping_rule(store.owner, "12", "99.00")
        assert (rule.fee_cents, rule.free_over_cents) == (1200, 9900)
        assert settings.shipping_rule().fee_for(9899) == 1200 and settings.shipping_rule().fee_for(9900) == 0
        settings.update_shipping_rule(store.owner, "8.5", "")
        assert settings.shipping_rule() == settings.ShippingRule(850, None)
    audits = db.session.scalars(
        select(AuditEntry).where(AuditEntry.merchant_id == store.merchant.id, AuditEntry.action == "store.shipping")
    ).all()
    assert len(audits) == 2


@pytest.mark.parametrize(
    "fee, free_over, field",
    [
        ("abc", "", "shipping_fee"),
        ("-1", "", "shipping_fee"),
        ("1000.01", "", "shipping_fee"),
        ("5", "x", "free_shipping_over"),
    ],
)
def test_a_wrong_shipping_rule_is_refused_and_nothing_changes(app, db, store, fee, free_over, field):
    with app.test_request_context(headers=EN), tenant(store.merchant.id):
        with pytest.raises(settings.StoreSettingsInvalid) as invalid:
            settings.update_shipping_rule(store.owner, fee, free_over)
        assert list(invalid.value.errors) == [field]
        assert settings.shipping_rule() == settings.ShippingRule()


def test_the_shipping_form_on_the_settings_page(app, db, store):
    client = area_client(app, store.owner, "merchant")
    token = csrf_token(client, "/merchant/settings")
    bad = client.post("/merchant/settings/shipping", data={"shipping_fee": "ten", "csrf_token": token}, headers=EN)
    assert bad.status_code == 400 and "Enter an amount in yuan" in bad.get_data(as_text=True)
    good = client.post(
        "/merchant/settings/shipping", data={"shipping_fee": "10", "free_shipping_over": "199", "csrf_token": token}
    )
    assert good.status_code == 302
    page = client.get("/merchant/settings").get_data(as_text=True)
    assert 'value="10.00"' in page and 'value="199.00"' in page
