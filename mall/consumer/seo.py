"""For search engines: ``/robots.txt`` and the sitemaps (an index pointing to paged product sitemaps,
one of categories, brands and lists, one of stores). Every address is absolute and built from
``MALL_BASE_URL`` (``external_url``), never from the request's Host header."""

from __future__ import annotations

from datetime import datetime

from flask import Response, abort, current_app, render_template

from mall.catalog import sitemaps
from mall.catalog.cache import anonymous_page_cache
from mall.consumer.views import blueprint
from mall.web.urls import external_url

XML = "application/xml"
ROBOTS_DISALLOW = ("/merchant", "/platform", "/account", "/search?")


def _page_size() -> int:
    return int(current_app.config.get("MALL_SITEMAP_PAGE_SIZE", sitemaps.PAGE_SIZE))


def _w3c(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00") if moment else None


def _xml(template: str, **context) -> Response:
    return Response(render_template(template, **context), mimetype=XML)


@blueprint.get("/robots.txt")
def robots():
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in ROBOTS_DISALLOW), ""]
    lines.append(f"Sitemap: {external_url('consumer.sitemap_index')}")
    return Response("\n".join(lines) + "\n", mimetype="text/plain")


@blueprint.get("/sitemap.xml")
@anonymous_page_cache
def sitemap_index():
    pages = sitemaps.product_pages(_page_size())
    entries = [(external_url("consumer.sitemap_categories"), None), (external_url("consumer.sitemap_stores"), None)]
    entries += [(external_url("consumer.sitemap_products", page=page.number), _w3c(page.lastmod)) for page in pages]
    return _xml("consumer/sitemap_index.xml", entries=entries)


@blueprint.get("/sitemap-products-<int:page>.xml")
@anonymous_page_cache
def sitemap_products(page: int):
    rows = sitemaps.product_page(page, _page_size())
    if not rows:
        abort(404)
    urls = [
        (external_url("consumer.product", product_id=row.id, slug=row.slug or "item"), _w3c(row.updated_at))
        for row in rows
    ]
    return _xml("consumer/sitemap.xml", urls=urls)


@blueprint.get("/sitemap-categories.xml")
@anonymous_page_cache
def sitemap_categories():
    urls = [(external_url(endpoint), None) for endpoint in sitemaps.LIST_ENDPOINTS]
    urls += [(external_url("consumer.category", slug=slug), None) for slug in sitemaps.category_slugs()]
    urls += [(external_url("consumer.brand", slug=slug), None) for slug in sitemaps.brand_slugs()]
    return _xml("consumer/sitemap.xml", urls=urls)


@blueprint.get("/sitemap-stores.xml")
@anonymous_page_cache
def sitemap_stores():
    urls = [(external_url("consumer.store", slug=slug), _w3c(lastmod)) for slug, lastmod in sitemaps.store_entries()]
    return _xml("consumer/sitemap.xml", urls=urls)
