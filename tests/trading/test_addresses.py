"""The address book: rules, the single default, the limit, and one shopper never touching another's."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mall.errors import DomainError, NotFound
from mall.trading import addresses as book
from mall.trading.models import Address
from tests.conftest import csrf_token, login

pytestmark = pytest.mark.usefixtures("english")

HOME = {
    "recipient": "Li Lei",
    "phone": "138 0013 8000",
    "province": "Shanghai",
    "city": "Shanghai",
    "district": "Huangpu",
    "detail": "1 Nanjing East Road, flat 5",
    "postcode": "200001",
    "label": "home",
}


def _count(db, user_id: int) -> int:
    return db.session.scalar(select(func.count()).where(Address.user_id == user_id))


def test_the_first_address_is_the_default_and_one_default_at_most(db, make_user):
    user = make_user()
    home = book.add_address(user.id, HOME)
    assert home.is_default and home.phone == "13800138000"
    office = book.add_address(user.id, {**HOME, "label": "office", "detail": "99 Century Avenue"})
    assert not office.is_default
    parents = book.add_address(user.id, {**HOME, "label": "parents"}, make_default=True)
    assert [a.id for a in book.addresses_of(user.id) if a.is_default] == [parents.id]
    book.set_default(user.id, office.id)
    assert book.default_address(user.id).id == office.id
    assert book.addresses_of(user.id)[0].id == office.id  # the default is listed first


def test_deleting_the_default_hands_it_to_another_address(db, make_user):
    user = make_user()
    first = book.add_address(user.id, HOME)
    second = book.add_address(user.id, {**HOME, "label": "office"})
    book.delete_address(user.id, first.id)
    assert book.default_address(user.id).id == second.id
    book.delete_address(user.id, second.id)
    assert book.default_address(user.id) is None and _count(db, user.id) == 0


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"recipient": "  "}, "recipient", "This field is required."),
        ({"phone": "12345"}, "phone", "Enter a mobile number"),
        ({"postcode": "20001"}, "postcode", "A postcode has 6 digits."),
        ({"detail": "x" * 201}, "detail", "At most 200 characters."),
        ({"city": None}, "city", "This field is required."),
    ],
)
def test_a_wrong_field_is_named_and_nothing_is_written(db, make_user, change, field, message):
    user = make_user()
    with pytest.raises(book.AddressInvalid) as raised:
        book.add_address(user.id, {**HOME, **change})
    assert list(raised.value.errors) == [field] and raised.value.errors[field].startswith(message)
    assert _count(db, user.id) == 0


def test_control_characters_and_runs_of_spaces_are_cleaned(db, make_user):
    address = book.add_address(make_user().id, {**HOME, "detail": "1  Nanjing\tEast\u0000 Road\n"})
    assert address.detail == "1 Nanjing East Road"


def test_the_book_holds_at_most_twenty_addresses(db, make_user, monkeypatch):
    monkeypatch.setattr(book, "MAX_ADDRESSES", 3)
    user = make_user()
    for n in range(3):
        book.add_address(user.id, {**HOME, "label": f"n{n}"})
    with pytest.raises(DomainError, match="address book is full"):
        book.add_address(user.id, HOME)
    assert _count(db, user.id) == 3


def test_another_shoppers_address_is_not_found(db, make_user):
    owner, other = make_user(), make_user()
    address = book.add_address(owner.id, HOME)
    for action in (
        lambda: book.get_address(other.id, address.id),
        lambda: book.update_address(other.id, address.id, HOME),
        lambda: book.set_default(other.id, address.id),
        lambda: book.delete_address(other.id, address.id),
    ):
        with pytest.raises(NotFound):
            action()
    assert db.session.get(Address, address.id).recipient == "Li Lei"


# --- pages ------------------------------------------------------------------------------------------


def test_adding_an_address_through_the_page(client, db, make_user):
    user = make_user("addr_user1")
    assert client.get("/account/addresses").status_code == 302  # log in first
    login(client, user.username)
    token = csrf_token(client, "/account/addresses/new")
    bad = client.post("/account/addresses/new", data={**HOME, "phone": "abc", "csrf_token": token})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "Enter a mobile number" in page and 'value="Li Lei"' in page
    assert _count(db, user.id) == 0
    good = client.post(
        "/account/addresses/new", data={**HOME, "csrf_token": token, "next": "/account/addresses?from=checkout"}
    )
    assert good.status_code == 302 and good.headers["Location"].endswith("/account/addresses?from=checkout")
    listing = client.get("/account/addresses").get_data(as_text=True)
    assert "Li Lei" in listing and "1 Nanjing East Road, flat 5" in listing and "Default" in listing
    evil = client.post("/account/addresses/new", data={**HOME, "csrf_token": token, "next": "https://evil.example/"})
    assert evil.status_code == 302 and "evil.example" not in evil.headers["Location"]


def test_editing_defaulting_and_deleting_through_the_pages(client, db, make_user):
    user = make_user("addr_user2")
    first = book.add_address(user.id, HOME)
    second = book.add_address(user.id, {**HOME, "label": "office"})
    login(client, user.username)
    form = client.get(f"/account/addresses/{second.id}/edit").get_data(as_text=True)
    assert 'value="office"' in form
    token = csrf_token(client, "/account/addresses")
    client.post(f"/account/addresses/{second.id}/edit", data={**HOME, "label": "work", "csrf_token": token})
    client.post(f"/account/addresses/{second.id}/default", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(Address, second.id).label == "work" and book.default_address(user.id).id == second.id
    client.post(f"/account/addresses/{second.id}/delete", data={"csrf_token": token})
    assert book.default_address(user.id).id == first.id


def test_another_shoppers_address_pages_are_404(client, db, make_user):
    owner = make_user("addr_owner")
    address = book.add_address(owner.id, HOME)
    login(client, make_user("addr_thief").username)
    token = csrf_token(client, "/account/addresses")
    assert client.get(f"/account/addresses/{address.id}/edit").status_code == 404
    for path in ("edit", "default", "delete"):
        response = client.post(f"/account/addresses/{address.id}/{path}", data={**HOME, "csrf_token": token})
        assert response.status_code in (302, 404)
    db.session.expire_all()
    kept = db.session.get(Address, address.id)
    assert kept is not None and kept.recipient == "Li Lei" and kept.label == "home"
