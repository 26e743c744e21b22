"""Product favourites with the shopper's own folders, and browsing history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from mall.catalog import favorites as service
from mall.catalog.models import BrowsingHistory, FavoriteFolder, Product, ProductFavorite
from mall.catalog.publishing import sync_public_product
from mall.errors import DomainError, NotFound
from mall.tenancy import tenant
from tests.catalog import browse_helpers as h
from tests.catalog.browse_helpers import EN
from tests.conftest import csrf_token, login


@pytest.fixture()
def catalog(db, make_merchant):
    cat = h.category("Apparel", "apparel")
    merchant = make_merchant("Wool House", slug="wool-house")
    return {
        "merchant": merchant,
        "scarf": h.product(merchant, cat, "Scarf"),
        "hat": h.product(merchant, cat, "Hat"),
        "gloves": h.product(merchant, cat, "Gloves"),
    }


@pytest.fixture()
def shopper(client, make_user):
    user = make_user("shopper01")
    login(client, user.username)
    return user


def _post(client, path: str, data: dict | None = None, token_page: str = "/account/favorites"):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, token_page)}, headers=EN)


def _favorites(db, user_id: int) -> dict[int, int | None]:
    rows = db.session.execute(
        select(ProductFavorite.product_id, ProductFavorite.folder_id).where(ProductFavorite.user_id == user_id)
    ).all()
    return dict(rows)


def test_add_and_remove_a_favourite_from_the_product_page(client, db, catalog, shopper):
    scarf = catalog["scarf"]
    page = client.get(f"/p/{scarf.id}-{scarf.slug}", headers=EN).get_data(as_text=True)
    assert f'action="/p/{scarf.id}/favorite"' in page and "Add to favourites" in page
    response = _post(client, f"/p/{scarf.id}/favorite", {"next": f"/p/{scarf.id}-{scarf.slug}"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/p/{scarf.id}-{scarf.slug}")
    _post(client, f"/p/{scarf.id}/favorite")  # twice: still one row
    assert _favorites(db, shopper.id) == {scarf.id: None}
    page = client.get(f"/p/{scarf.id}-{scarf.slug}", headers=EN).get_data(as_text=True)
    assert f'action="/p/{scarf.id}/unfavorite"' in page and "In your favourites" in page
    _post(client, f"/p/{scarf.id}/unfavorite")
    assert _favorites(db, shopper.id) == {}


def test_visitors_are_sent_to_log_in_and_csrf_is_required(client, db, catalog):
    scarf = catalog["scarf"]
    response = client.post(
        f"/p/{scarf.id}/favorite", data={"csrf_token": csrf_token(client, "/account/login")}, headers=EN
    )
    assert response.status_code == 302 and "/account/login?next=" in response.headers["Location"]
    assert db.session.scalars(select(ProductFavorite)).all() == []


def test_csrf_token_is_checked(client, db, catalog, shopper):
    response = client.post(f"/p/{catalog['scarf'].id}/favorite", headers=EN)
    assert response.status_code == 400 and _favorites(db, shopper.id) == {}


def test_an_unavailable_product_cannot_be_added_but_stays_listed_greyed(client, db, catalog, shopper):
    scarf, hat = catalog["scarf"], catalog["hat"]
    _post(client, f"/p/{scarf.id}/favorite")
    with tenant(catalog["merchant"].id):
        for product_id in (scarf.id, hat.id):
            product = db.session.get(Product, product_id)
            product.on_shelf = False
            sync_public_product(product)
    _post(client, f"/p/{hat.id}/favorite")
    assert _favorites(db, shopper.id) == {scarf.id: None}
    page = client.get("/account/favorites", headers=EN).get_data(as_text=True)
    row = page.split('class="is-unavailable"')[1].split("</tr>")[0]
    assert "Scarf" in row and "Not available" in row and f'href="/p/{scarf.id}-' not in row


def test_folders_create_rename_move_filter_and_delete(client, db, catalog, shopper):
    for key in ("scarf", "hat", "gloves"):
        _post(client, f"/p/{catalog[key].id}/favorite")
    response = _post(client, "/account/favorites/folders", {"name": "  Winter   wear "})
    folder = db.session.scalar(select(FavoriteFolder).where(FavoriteFolder.user_id == shopper.id))
    assert response.status_code == 303 and folder.name == "Winter wear"
    duplicate = _post(client, "/account/favorites/folders", {"name": "Winter wear"})
    assert duplicate.status_code == 400 and "You already have a folder with this name." in duplicate.get_data(
        as_text=True
    )
    assert _post(client, "/account/favorites/folders", {"name": ""}).status_code == 400

    moved = _post(
        client,
        "/account/favorites/move",
        {"product_id": [catalog["scarf"].id, catalog["hat"].id], "folder_id": folder.id},
    )
    assert moved.status_code == 303
    assert _favorites(db, shopper.id) == {
        catalog["scarf"].id: folder.id,
        catalog["hat"].id: folder.id,
        catalog["gloves"].id: None,
    }
    in_folder = client.get(f"/account/favorites?folder={folder.id}", headers=EN).get_data(as_text=True)
    assert "Scarf" in in_folder and "Hat" in in_folder and "Gloves" not in in_folder
    unfiled = client.get("/account/favorites?folder=unfiled", headers=EN).get_data(as_text=True)
    assert "Gloves" in unfiled and "Scarf" not in unfiled

    assert _post(client, f"/account/favorites/folders/{folder.id}/rename", {"name": "Cold days"}).status_code == 303
    db.session.refresh(folder)
    assert folder.name == "Cold days"

    assert _post(client, f"/account/favorites/folders/{folder.id}/delete").status_code == 303
    assert db.session.scalar(select(FavoriteFolder.id).where(FavoriteFolder.id == folder.id)) is None
    assert _favorites(db, shopper.id) == {p.id: None for p in (catalog["scarf"], catalog["hat"], catalog["gloves"])}


def test_another_shoppers_folders_are_not_found(client, db, catalog, shopper, make_user):
    stranger = make_user("stranger01")
    with force_locale("en"):
        theirs = service.create_folder(stranger.id, "Theirs")
    service.add_favorite(stranger.id, catalog["scarf"].id, theirs.id)
    _post(client, f"/p/{catalog['hat'].id}/favorite")
    assert _post(client, f"/account/favorites/folders/{theirs.id}/rename", {"name": "Mine"}).status_code == 404
    assert _post(client, f"/account/favorites/folders/{theirs.id}/delete").status_code == 404
    assert (
        _post(client, "/account/favorites/move", {"product_id": catalog["hat"].id, "folder_id": theirs.id}).status_code
        == 404
    )
    # Moving someone else's favourite (by product id) into one's own folder changes nothing of theirs.
    mine = service.create_folder(shopper.id, "Mine")
    _post(client, "/account/favorites/move", {"product_id": catalog["scarf"].id, "folder_id": mine.id})
    assert _favorites(db, stranger.id) == {catalog["scarf"].id: theirs.id}
    assert db.session.get(FavoriteFolder, theirs.id).name == "Theirs"
    response = client.get(f"/account/favorites?folder={theirs.id}", headers=EN)
    assert response.status_code == 302


def test_folder_service_rules(db, catalog, make_user):
    user = make_user()
    with force_locale("en"):
        with pytest.raises(DomainError, match="At most 40"):
            service.create_folder(user.id, "x" * 41)
        with pytest.raises(NotFound):
            service.add_favorite(user.id, catalog["scarf"].id, folder_id=999999999)
        with pytest.raises(DomainError, match="Choose the products"):
            service.move_favorites(user.id, [], None)
    assert service.add_favorite(user.id, catalog["scarf"].id) is True
    assert service.add_favorite(user.id, catalog["scarf"].id) is False
    assert service.favorite_counts(user.id) == (1, 1)


def test_history_latest_first_remove_one_and_clear(client, db, catalog, shopper):
    now = datetime.now(UTC)
    service.record_view(shopper.id, catalog["scarf"].id, now - timedelta(minutes=3))
    service.record_view(shopper.id, catalog["hat"].id, now - timedelta(minutes=2))
    service.record_view(shopper.id, catalog["scarf"].id, now - timedelta(minutes=1))  # viewed again: moves up
    assert [r.product_id for r in service.history(shopper.id).items] == [catalog["scarf"].id, catalog["hat"].id]
    assert db.session.scalar(select(BrowsingHistory.id).where(BrowsingHistory.user_id == shopper.id)) is not None
    page = client.get("/account/history", headers=EN).get_data(as_text=True)
    assert page.index("Scarf") < page.index("Hat")
    response = _post(client, f"/account/history/{catalog['scarf'].id}/remove", token_page="/account/history")
    assert response.status_code == 303
    assert [r.product_id for r in service.history(shopper.id).items] == [catalog["hat"].id]
    _post(client, "/account/history/clear", token_page="/account/history")
    assert service.history(shopper.id).total == 0
    assert "You have not viewed any product yet." in client.get("/account/history", headers=EN).get_data(as_text=True)


def test_history_keeps_only_the_latest_views(db, catalog, make_user, monkeypatch):
    user = make_user()
    monkeypatch.setattr(service, "HISTORY_KEEP", 2)
    now = datetime.now(UTC)
    for minutes, key in enumerate(("scarf", "hat", "gloves")):
        service.record_view(user.id, catalog[key].id, now + timedelta(minutes=minutes))
    assert [r.product_id for r in service.history(user.id).items] == [catalog["gloves"].id, catalog["hat"].id]


def test_account_page_links_favourites_history_and_followed_stores(client, db, shopper):
    page = client.get("/account", headers=EN).get_data(as_text=True)
    assert 'href="/account/favorites"' in page and 'href="/account/history"' in page
    assert 'href="/account/following"' in page
    assert 'href="/account/following"' in client.get("/account/favorites", headers=EN).get_data(as_text=True)


def test_account_pages_need_a_login(client, db):
    for path in ("/account/favorites", "/account/history"):
        response = client.get(path, headers=EN)
        assert response.status_code == 302 and "/account/login" in response.headers["Location"]
