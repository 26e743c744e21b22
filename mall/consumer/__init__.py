"""The mall front for consumers: home, accounts, store pages, opening a store."""

from mall.consumer import apply, shop  # noqa: F401  (routes on the same blueprint)
# catalog route modules (one line each):
from mall.consumer.views import blueprint

__all__ = ["blueprint"]
