"""Reviews: after receipt, one per line, photos, one edit, one store reply, default reviews when the
window closes, ratings rolled up to the product and the store and shown on the product page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from mall.catalog.models import PublicProduct
from mall.errors import NotFound
from mall.tenancy import tenant
from mall.trading import fulfilment, reviews
from mall.trading.models import OrderLine, Review
from tests.catalog.browse_helpers import png
from tests.merchant.helpers import area_client
from tests.trading.helpers import Mall, shopper
from tests.trading.test_fulfilment import owner_of, paid_order

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture()
def mall(db, make_merchant):
    return Mall(make_merchant)


def received(app, db, mall, user, *items):
    (order,) = paid_order(app, db, mall, user, *items)
    with tenant(order.merchant_id):
        fulfilment.ship(owner_of(mall.tea_house), order.id, "SF", "SF123456")
    fulfilment.confirm_receipt(user.id, order.id)
    with tenant(order.merchant_id):
        lines = list(db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)))
    return order, lines


def test_reviews_roll_up_to_the_product_and_the_store(app, db, make_user, mall):
    user = shopper(make_user)
    order, (green, black) = received(app, db, mall, user, (mall.green, 1), (mall.black, 1))
    reviews.write_review(user.id, order.id, green.id, 4, "Fresh and fragrant", [reviews.Photo(png(), "cup.png")])
    reviews.write_review(user.id, order.id, black.id, "2", "Too bitter")
    row = db.session.get(PublicProduct, mall.green.id)
    assert (row.rating, row.review_count) == (Decimal("4.00"), 1)
    assert (mall.tea_house.rating, mall.tea_house.review_count) == (Decimal("3.00"), 2)
    with pytest.raises(reviews.ReviewError, match="reviewed this item already"):
        reviews.write_review(user.id, order.id, green.id, 5, "again")
    (photo,) = reviews.product_reviews(mall.tea_house.id, mall.green.id)[0].photo_keys
    assert photo.startswith("public/review-photo/")


@pytest.mark.parametrize("stars", [0, 6, "x", None])
def test_stars_from_one_to_five(app, db, make_user, mall, stars):
    user = shopper(make_user)
    order, (line,) = received(app, db, mall, user, (mall.green, 1))
    with pytest.raises(reviews.ReviewError, match="one to five stars"):
        reviews.write_review(user.id, order.id, line.id, stars, "ok")
    with tenant(mall.tea_house.id):
        assert db.session.scalars(select(Review)).all() == []


def test_no_review_before_receipt_or_of_another_buyers_order(app, db, make_user, mall):
    user = shopper(make_user)
    (order,) = paid_order(app, db, mall, user, (mall.green, 1))
    with tenant(mall.tea_house.id):
        line_id = db.session.scalar(select(OrderLine.id).where(OrderLine.order_id == order.id))
    with pytest.raises(reviews.ReviewError, match="cannot be reviewed now"):
        reviews.write_review(user.id, order.id, line_id, 5, "early")
    with pytest.raises(NotFound):
        reviews.write_review(shopper(make_user).id, order.id, line_id, 1, "not mine")


def test_one_edit_and_one_reply(app, db, make_user, mall):
    user = shopper(make_user)
    order, (line,) = received(app, db, mall, user, (mall.green, 1))
    review = reviews.write_review(user.id, order.id, line.id, 2, "Late")
    reviews.edit_review(user.id, mall.tea_house.id, review.id, 4, "Late, but good")
    with pytest.raises(reviews.ReviewError, match="only once"):
        reviews.edit_review(user.id, mall.tea_house.id, review.id, 5, "Great")
    with pytest.raises(NotFound):
        reviews.edit_review(shopper(make_user).id, mall.tea_house.id, review.id, 1, "forged")
    with tenant(mall.tea_house.id):
        reviews.reply(owner_of(mall.tea_house), review.id, "Sorry for the delay!")
        with pytest.raises(reviews.ReviewError, match="reply already"):
            reviews.reply(owner_of(mall.tea_house), review.id, "Again")
    assert db.session.get(PublicProduct, mall.green.id).rating == Decimal("4.00")


def test_default_reviews_when_the_window_closes(app, committed_db, make_user, make_merchant):
    mall = Mall(make_merchant)
    user = shopper(make_user)
    order, (green, black) = received(app, committed_db, mall, user, (mall.green, 1), (mall.black, 1))
    reviews.write_review(user.id, order.id, green.id, 3, "Fine")
    committed_db.session.commit()
    assert reviews.give_default_reviews() == 0  # the window is still open
    order.received_at = datetime.now(UTC) - timedelta(days=16)
    committed_db.session.commit()
    assert reviews.give_default_reviews() == 1
    assert reviews.give_default_reviews() == 0
    with tenant(mall.tea_house.id):
        given = committed_db.session.scalar(select(Review).where(Review.order_line_id == black.id))
    assert (given.stars, given.is_default) == (5, True)
    committed_db.session.expire_all()
    assert committed_db.session.get(PublicProduct, mall.black.id).review_count == 1


def test_reviewing_through_the_pages(app, db, client, make_user, mall):
    from tests.conftest import login

    user = shopper(make_user, "reviewer1")
    order, (line,) = received(app, db, mall, user, (mall.green, 1))
    db.session.commit()
    login(client, user.username)
    headers = {"Accept-Language": "en"}
    detail = client.get(f"/orders/{order.id}", headers=headers).get_data(as_text=True)
    assert f"/orders/{order.id}/lines/{line.id}/review" in detail
    form = client.get(f"/orders/{order.id}/lines/{line.id}/review", headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    bad = client.post(
        f"/orders/{order.id}/lines/{line.id}/review", data={"csrf_token": token, "text": "x"}, headers=headers
    )
    assert bad.status_code == 400 and "Choose one to five stars." in bad.get_data(as_text=True)
    client.post(
        f"/orders/{order.id}/lines/{line.id}/review",
        data={"csrf_token": token, "stars": "5", "text": "Lovely tea"},
        headers=headers,
    )
    page = client.get(f"/p/{mall.green.id}-green-tea", headers=headers).get_data(as_text=True)
    assert "Lovely tea" in page and "1 review, 5.00 of 5 stars" in page
    merchant = area_client(app, owner_of(mall.tea_house), "merchant")
    listing = merchant.get("/merchant/reviews").get_data(as_text=True)
    assert "Lovely tea" in listing
    token = re.search(r'name="csrf_token" value="([^"]+)"', listing).group(1)
    review_id = re.search(r"/merchant/reviews/(\d+)/reply", listing).group(1)
    merchant.post(f"/merchant/reviews/{review_id}/reply", data={"csrf_token": token, "reply": "Thank you!"})
    assert "Store reply: Thank you!" in client.get(f"/p/{mall.green.id}-green-tea", headers=headers).get_data(
        as_text=True
    )
