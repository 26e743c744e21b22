"""The mall front for consumers: home, accounts, store pages, opening a store."""

# Route modules attach their views to the one blueprint.
from mall.consumer import (  # noqa: F401
    addresses,  # the address book
    after_sales,  # returns, refunds, exchanges, disputes
    apply,  # opening a store
    browse,  # home, category and brand pages, rankings, product page
    cart,  # the cart across stores
    checkout,  # checkout: one payment, one order per store
    favorites,  # favourites and browsing history
    orders,  # my orders
    pay,  # paying a checkout, provider notifications
    restock,  # notify me when back in stock
    search,  # search: products, stores, suggestions
    seo,  # robots.txt and sitemaps
    shop,  # store pages
)
from mall.consumer.views import blueprint

__all__ = ["blueprint"]
