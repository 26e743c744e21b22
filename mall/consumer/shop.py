"""Store home pages: ``/shop/<slug>/`` and ``<subdomain>.<MALL_DOMAIN>/``, and the themes' assets.

The store is bound by slug or subdomain (unknown, suspended or closed → 404); the page
is the published decoration rendered with the store's theme.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from mall.consumer.views import blueprint
from mall.decoration import services as decoration
from mall.decoration.rendering import Decoration, render_store_page
from mall.decoration.themes import themes
from mall.extensions import db
from mall.favorites import services as favorites
from mall.i18n import _
from mall.identity.login import safe_next
from mall.merchants.models import Merchant
from mall.merchants.storefront import bind_store, store_from_host

ASSET_MAX_AGE = 3600
VERSIONED_ASSET_MAX_AGE = 365 * 86400


def _store_page(merchant: Merchant | None, home_url: str | None = None):
    if merchant is None:
        abort(404)
    live = decoration.live_version()
    return render_store_page(merchant, Decoration.of_version(live) if live else None, home_url=home_url)


@blueprint.before_request
def store_subdomain_home():
    """On ``<subdomain>.<MALL_DOMAIN>`` the home page is the store's home page."""
    if request.endpoint == "consumer.home" and store_from_host(request.host):
        return _store_page(bind_store(), home_url="/")
    return None


@blueprint.get("/shop/<slug>/")
def store(slug: str):
    return _store_page(bind_store(slug))


@blueprint.get("/store/<slug>/")
def store_moved(slug: str):
    """The store pages' former address."""
    return redirect(url_for("consumer.store", slug=slug), code=301)


def _back_to_store(merchant: Merchant):
    return redirect(safe_next(request.form.get("next"), url_for("consumer.store", slug=merchant.slug)))


@blueprint.post("/shop/<slug>/follow")
def follow_store(slug: str):
    merchant = bind_store(slug)
    if merchant is None:
        abort(404)
    if not current_user.is_authenticated:
        flash(_("Log in to follow this store."), "info")
        return redirect(
            url_for("consumer.login", next=safe_next(request.form.get("next"), url_for("consumer.store", slug=slug)))
        )
    if favorites.follow_store(current_user.id, merchant.id):
        db.session.commit()
        flash(_("You follow %(store)s now.", store=merchant.name), "success")
    return _back_to_store(merchant)


@blueprint.post("/shop/<slug>/unfollow")
@login_required
def unfollow_store(slug: str):
    """Also for a store that has since been suspended or closed (from the followed stores list)."""
    merchant = db.session.scalar(select(Merchant).where(Merchant.slug == slug))
    if merchant is None:
        abort(404)
    if favorites.unfollow_store(current_user.id, merchant.id):
        db.session.commit()
        flash(_("You no longer follow %(store)s.", store=merchant.name), "info")
    if not merchant.is_open:
        return redirect(url_for("consumer.followed_stores"))
    return _back_to_store(merchant)


@blueprint.get("/account/following")
@login_required
def followed_stores():
    return render_template("consumer/following.html", follows=favorites.followed_stores(current_user.id))


@blueprint.get("/themes/<theme>/static/<path:filename>")
def theme_static(theme: str, filename: str):
    """A theme's asset, or the default theme's when the theme has none; never outside ``static/``."""
    path = themes().static_file(theme, filename)
    if path is None:
        abort(404)
    versioned = bool(request.args.get("v"))
    response = send_file(path, max_age=VERSIONED_ASSET_MAX_AGE if versioned else ASSET_MAX_AGE, conditional=True)
    response.cache_control.public = True
    if versioned:
        response.cache_control.immutable = True
    return response
