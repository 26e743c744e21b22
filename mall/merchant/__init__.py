"""The merchant back office: the store bound from the staff member's membership."""

from mall.merchant import decoration, invitations, settings  # noqa: F401  (routes on the same blueprint)
# catalog route modules (one line each):
from mall.merchant.views import blueprint

__all__ = ["blueprint"]
