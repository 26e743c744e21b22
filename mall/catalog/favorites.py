"""A shopper's product favourites (sorted into their own folders) and browsing history.

Both live in the platform schema and point at public catalog rows, so a product that later leaves
the mall stays listed (shown as unavailable) until the shopper removes it; a product deleted by its
store takes its favourites and history with it (foreign keys with ``ON DELETE CASCADE``).
Every function takes the shopper's id and only ever touches that shopper's rows: a folder or
favourite id of someone else is "not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from mall.catalog.models import BrowsingHistory, FavoriteFolder, ProductFavorite, PublicProduct
from mall.catalog.paging import Page
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import _

FOLDER_NAME_MAX = 40
MAX_FOLDERS = 50
PER_PAGE = 40
HISTORY_KEEP = 500  # older views are forgotten
UNFILED = "unfiled"


class FavoriteError(DomainError):
    """A favourites change was refused; nothing changed."""


# ---------------------------------------------------------------------------------------------
# Favourites
# ---------------------------------------------------------------------------------------------


def _folder(user_id: int, folder_id: int) -> FavoriteFolder:
    folder = db.session.scalar(
        select(FavoriteFolder).where(FavoriteFolder.id == folder_id, FavoriteFolder.user_id == user_id)
    )
    if folder is None:
        raise NotFound(_("This folder does not exist."), field="folder_id")
    return folder


def add_favorite(user_id: int, product_id: int, folder_id: int | None = None) -> bool:
    """Keep a product the mall shows; True when newly added (adding again changes nothing)."""
    product = db.session.get(PublicProduct, product_id)
    if product is None or not product.is_visible:
        raise NotFound(_("This product is not available."))
    if folder_id is not None:
        _folder(user_id, folder_id)
    inserted = db.session.execute(
        insert(ProductFavorite)
        .values(user_id=user_id, product_id=product_id, folder_id=folder_id)
        .on_conflict_do_nothing(index_elements=["user_id", "product_id"])
        .returning(ProductFavorite.id)
    ).scalar()
    return inserted is not None


def remove_favorite(user_id: int, product_id: int) -> bool:
    """Also for a product that is no longer available; True when one went."""
    result = db.session.execute(
        delete(ProductFavorite).where(ProductFavorite.user_id == user_id, ProductFavorite.product_id == product_id)
    )
    return result.rowcount > 0


def is_favorite(user_id: int | None, product_id: int) -> bool:
    if user_id is None:
        return False
    found = db.session.scalar(
        select(ProductFavorite.id).where(ProductFavorite.user_id == user_id, ProductFavorite.product_id == product_id)
    )
    return found is not None


def move_favorites(user_id: int, product_ids: list[int], folder_id: int | None) -> int:
    """Put these favourites into a folder (None: out of any folder); returns how many moved."""
    if folder_id is not None:
        _folder(user_id, folder_id)
    if not product_ids:
        raise FavoriteError(_("Choose the products to move."), field="product_ids")
    result = db.session.execute(
        update(ProductFavorite)
        .where(ProductFavorite.user_id == user_id, ProductFavorite.product_id.in_(product_ids))
        .values(folder_id=folder_id)
    )
    return result.rowcount


def favorites(user_id: int, folder: int | str | None = None, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The shopper's favourites, latest first: all, one folder of theirs, or ``UNFILED``."""
    stmt = select(ProductFavorite).where(ProductFavorite.user_id == user_id)
    if folder == UNFILED:
        stmt = stmt.where(ProductFavorite.folder_id.is_(None))
    elif folder is not None:
        stmt = stmt.where(ProductFavorite.folder_id == _folder(user_id, int(folder)).id)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    items = db.session.scalars(
        stmt.order_by(ProductFavorite.created_at.desc(), ProductFavorite.id.desc())
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    ).all()
    return Page(list(items), page=max(page, 1), per_page=per_page, total=total)


# ---------------------------------------------------------------------------------------------
# Folders
# ---------------------------------------------------------------------------------------------


@dataclass
class FolderCount:
    folder: FavoriteFolder
    count: int


def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise FavoriteError(_("Enter a name for the folder."), field="name")
    if len(name) > FOLDER_NAME_MAX:
        raise FavoriteError(_("At most %(n)s characters.", n=FOLDER_NAME_MAX), field="name")
    return name


def _name_taken(user_id: int, name: str, folder_id: int | None = None) -> bool:
    stmt = select(FavoriteFolder.id).where(FavoriteFolder.user_id == user_id, FavoriteFolder.name == name)
    if folder_id is not None:
        stmt = stmt.where(FavoriteFolder.id != folder_id)
    return db.session.scalar(stmt) is not None


def create_folder(user_id: int, name: str | None) -> FavoriteFolder:
    """A new folder with a name unique among this shopper's folders."""
    name = _clean_name(name)
    count = db.session.scalar(select(func.count()).where(FavoriteFolder.user_id == user_id)) or 0
    if count >= MAX_FOLDERS:
        raise FavoriteError(_("You can have at most %(n)s folders.", n=MAX_FOLDERS), field="name")
    if _name_taken(user_id, name):
        raise FavoriteError(_("You already have a folder with this name."), field="name")
    folder = FavoriteFolder(user_id=user_id, name=name)
    db.session.add(folder)
    db.session.flush()
    return folder


def rename_folder(user_id: int, folder_id: int, name: str | None) -> FavoriteFolder:
    folder = _folder(user_id, folder_id)
    name = _clean_name(name)
    if _name_taken(user_id, name, folder.id):
        raise FavoriteError(_("You already have a folder with this name."), field="name")
    folder.name = name
    db.session.flush()
    return folder


def delete_folder(user_id: int, folder_id: int) -> int:
    """Delete the folder; its favourites stay, out of any folder. Returns how many were in it."""
    folder = _folder(user_id, folder_id)
    moved = db.session.execute(
        update(ProductFavorite)
        .where(ProductFavorite.user_id == user_id, ProductFavorite.folder_id == folder.id)
        .values(folder_id=None)
    ).rowcount
    db.session.delete(folder)
    db.session.flush()
    return moved


def folders(user_id: int) -> list[FolderCount]:
    """The shopper's folders by name, with how many favourites each holds."""
    rows = db.session.execute(
        select(FavoriteFolder, func.count(ProductFavorite.id))
        .outerjoin(ProductFavorite, ProductFavorite.folder_id == FavoriteFolder.id)
        .where(FavoriteFolder.user_id == user_id)
        .group_by(FavoriteFolder.id)
        .order_by(FavoriteFolder.name)
    ).all()
    return [FolderCount(folder, count) for folder, count in rows]


def favorite_counts(user_id: int) -> tuple[int, int]:
    """(all favourites, those in no folder)."""
    unfiled = func.count(ProductFavorite.id).filter(ProductFavorite.folder_id.is_(None))
    total, unfiled = db.session.execute(
        select(func.count(ProductFavorite.id), unfiled).where(ProductFavorite.user_id == user_id)
    ).one()
    return total, unfiled


# ---------------------------------------------------------------------------------------------
# Browsing history
# ---------------------------------------------------------------------------------------------


def record_view(user_id: int, product_id: int, now: datetime | None = None) -> None:
    """One row per shopper and product: a new view moves it to the top. Keeps the latest
    ``HISTORY_KEEP`` products."""
    now = now or datetime.now(UTC)
    db.session.execute(
        insert(BrowsingHistory)
        .values(user_id=user_id, product_id=product_id, viewed_at=now)
        .on_conflict_do_update(index_elements=["user_id", "product_id"], set_={"viewed_at": now})
    )
    oldest_kept = (
        select(BrowsingHistory.viewed_at)
        .where(BrowsingHistory.user_id == user_id)
        .order_by(BrowsingHistory.viewed_at.desc())
        .offset(HISTORY_KEEP - 1)
        .limit(1)
        .scalar_subquery()
    )
    db.session.execute(
        delete(BrowsingHistory).where(BrowsingHistory.user_id == user_id, BrowsingHistory.viewed_at < oldest_kept)
    )


def history(user_id: int, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The shopper's viewed products, latest first."""
    stmt = select(BrowsingHistory).where(BrowsingHistory.user_id == user_id)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    items = db.session.scalars(
        stmt.order_by(BrowsingHistory.viewed_at.desc(), BrowsingHistory.id.desc())
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    ).all()
    return Page(list(items), page=max(page, 1), per_page=per_page, total=total)


def remove_from_history(user_id: int, product_id: int) -> bool:
    result = db.session.execute(
        delete(BrowsingHistory).where(BrowsingHistory.user_id == user_id, BrowsingHistory.product_id == product_id)
    )
    return result.rowcount > 0


def clear_history(user_id: int) -> int:
    """Forget every viewed product of this shopper; returns how many."""
    return db.session.execute(delete(BrowsingHistory).where(BrowsingHistory.user_id == user_id)).rowcount
