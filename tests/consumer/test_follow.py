"""Following stores from the store header; the shopper's followed stores page."""

from __future__ import annotations

from sqlalchemy import func, select

from mall.favorites.models import StoreFollow
from tests.conftest import csrf_token, login

EN = {"Accept-Language": "en"}


def _follows(db, merchant_id: int | None = None) -> int:
    query = select(func.count()).select_from(StoreFollow)
    if merchant_id is not None:
        query = query.where(StoreFollow.merchant_id == merchant_id)
    return db.session.scalar(query)


def _post(client, path: str, **data):
    token = csrf_token(client, "/account/login")
    return client.post(path, data={"csrf_token": token, **data}, headers=EN)


def test_a_visitor_sees_the_button_and_is_sent_to_log_in(db, client, make_merchant):
    store = make_merchant("Tea House", slug="tea-house")
    page = client.get("/shop/tea-house/", headers=EN).get_data(as_text=True)
    assert 'action="/shop/tea-house/follow"' in page and ">Follow<" in page and "0 followers" in page

    response = _post(client, "/shop/tea-house/follow", next="/shop/tea-house/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login?next=/shop/tea-house/")
    assert _follows(db, store.id) == 0


def test_follow_twice_counts_once_then_unfollow(db, client, make_user, make_merchant):
    store = make_merchant("Tea House", slug="tea-house")
    make_user("buyer")
    login(client, "buyer")

    first = _post(client, "/shop/tea-house/follow", next="/shop/tea-house/")
    assert first.status_code == 302 and first.headers["Location"] == "/shop/tea-house/"
    assert "You follow Tea House now." in client.get("/shop/tea-house/", headers=EN).get_data(as_text=True)
    _post(client, "/shop/tea-house/follow")  # a double click changes nothing
    assert _follows(db, store.id) == 1

    page = client.get("/shop/tea-house/", headers=EN).get_data(as_text=True)
    assert 'action="/shop/tea-house/unfollow"' in page and ">Following<" in page and "1 follower<" in page
    assert "You follow Tea House now." not in page  # the repeat said nothing

    mine = client.get("/account/following", headers=EN).get_data(as_text=True)
    assert 'href="/shop/tea-house/"' in mine and "Tea House" in mine

    assert _post(client, "/shop/tea-house/unfollow").status_code == 302
    assert _follows(db, store.id) == 0
    assert "You do not follow any store yet." in client.get("/account/following", headers=EN).get_data(as_text=True)


def test_counts_are_per_store_and_per_shopper(db, client, app, make_user, make_merchant):
    tea, ink = make_merchant("Tea House", slug="tea-house"), make_merchant("Ink Shop", slug="ink-shop")
    make_user("buyer")
    make_user("other")
    login(client, "buyer")
    _post(client, "/shop/tea-house/follow")
    other = app.test_client()
    login(other, "other")
    _post(other, "/shop/tea-house/follow")
    _post(other, "/shop/ink-shop/follow")
    assert (_follows(db, tea.id), _follows(db, ink.id)) == (2, 1)

    page = client.get("/shop/ink-shop/", headers=EN).get_data(as_text=True)
    assert ">Follow<" in page and "1 follower<" in page  # buyer does not follow Ink Shop
    mine = client.get("/account/following", headers=EN).get_data(as_text=True)
    assert "Tea House" in mine and "Ink Shop" not in mine


def test_a_hidden_store_cannot_be_followed_but_can_be_unfollowed(db, client, make_user, make_merchant):
    store = make_merchant("Tea House", slug="tea-house")
    make_user("buyer")
    login(client, "buyer")
    _post(client, "/shop/tea-house/follow")
    store.status = "suspended"
    db.session.flush()

    assert _post(client, "/shop/tea-house/follow").status_code == 404
    mine = client.get("/account/following", headers=EN).get_data(as_text=True)
    assert "Tea House" in mine and "Not open" in mine and 'href="/shop/tea-house/"' not in mine

    response = _post(client, "/shop/tea-house/unfollow", next="/shop/tea-house/")
    assert response.status_code == 302 and response.headers["Location"] == "/account/following"
    assert _follows(db) == 0
    assert _post(client, "/shop/nowhere/follow").status_code == 404


def test_follow_needs_the_csrf_token(db, client, make_user, make_merchant):
    make_merchant("Tea House", slug="tea-house")
    make_user("buyer")
    login(client, "buyer")
    response = client.post("/shop/tea-house/follow", headers=EN)
    assert response.status_code == 400
    assert _follows(db) == 0


def test_the_header_is_translated(db, client, make_merchant):
    make_merchant("Tea House", slug="tea-house")
    page = client.get("/shop/tea-house/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "关注" in page and "Follow<" not in page
