"""The merchant back office: the store bound from the staff member's membership."""

# Route modules attach their views to the one blueprint.
from mall.merchant import (  # noqa: F401
    after_sales,  # returns, refunds, exchanges, disputes
    decoration,  # shop decoration
    finance,  # balances, statements, withdrawals
    inventory,  # stock, stocktaking, restock requests, import/export
    invitations,  # staff invitations
    orders,  # orders and fulfilment
    products,  # product list and editor, shelf, store categories
    reviews,  # buyers' reviews and replies
    settings,  # store settings
)
from mall.merchant.views import blueprint

__all__ = ["blueprint"]
