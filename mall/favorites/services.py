"""Following stores: follow, unfollow, the follower count on the store header, the shopper's list."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from mall.errors import NotFound
from mall.extensions import db
from mall.favorites.models import StoreFollow
from mall.i18n import _
from mall.merchants.models import Merchant


@dataclass(frozen=True)
class FollowState:
    followers: int
    following: bool


def _open_store(merchant_id: int) -> Merchant:
    merchant = db.session.get(Merchant, merchant_id)
    if merchant is None or not merchant.is_open:
        raise NotFound(_("This store is not open."))
    return merchant


def follow_store(user_id: int, merchant_id: int) -> bool:
    """Follow an open store; True when this call started following (a repeat changes nothing)."""
    _open_store(merchant_id)
    inserted = db.session.execute(
        insert(StoreFollow)
        .values(user_id=user_id, merchant_id=merchant_id)
        .on_conflict_do_nothing(index_elements=["user_id", "merchant_id"])
        .returning(StoreFollow.id)
    ).scalar()
    return inserted is not None


def unfollow_store(user_id: int, merchant_id: int) -> bool:
    """Stop following (also a store that has since been suspended or closed); True when a row went."""
    result = db.session.execute(
        delete(StoreFollow).where(StoreFollow.user_id == user_id, StoreFollow.merchant_id == merchant_id)
    )
    return result.rowcount > 0


def follow_state(merchant_id: int, user_id: int | None) -> FollowState:
    """The store header's follower count and whether this shopper (None: a visitor) follows it."""
    followers = db.session.scalar(select(func.count()).where(StoreFollow.merchant_id == merchant_id)) or 0
    following = False
    if user_id is not None:
        following = (
            db.session.scalar(
                select(StoreFollow.id).where(StoreFollow.merchant_id == merchant_id, StoreFollow.user_id == user_id)
            )
            is not None
        )
    return FollowState(followers=followers, following=following)


def followed_stores(user_id: int) -> list[StoreFollow]:
    """The shopper's followed stores, latest first; closed or suspended ones stay listed (shown as such)."""
    return list(
        db.session.scalars(
            select(StoreFollow)
            .where(StoreFollow.user_id == user_id)
            .order_by(StoreFollow.created_at.desc(), StoreFollow.id.desc())
        )
    )
