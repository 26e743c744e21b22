"""Permission codes and the built-in roles for operators and merchant staff.

Built-in roles live in code (so a release can change what they grant);
custom roles are rows made of these codes.
"""

from __future__ import annotations

from mall.i18n import L_

OPERATOR_PERMISSIONS = {
    "users.view": L_("View members and accounts"),
    "users.manage": L_("Disable and edit accounts"),
    "roles.manage": L_("Manage operator roles and assignments"),
    "merchants.view": L_("View merchants"),
    "merchants.manage": L_("Warn, suspend, reinstate and close merchants"),
    "applications.review": L_("Review merchant applications and their documents"),
    "products.review": L_("Review products"),
    "catalog.manage": L_("Manage categories, brands, tags and the home page"),
    "orders.view": L_("View orders of all stores"),
    "orders.manage": L_("Adjust orders and arbitrate disputes"),
    "finance.view": L_("View finance reports"),
    "finance.manage": L_("Run settlements and approve payouts"),
    "content.manage": L_("Manage site content"),
    "marketing.manage": L_("Manage site-wide marketing"),
    "service.manage": L_("Handle service tickets"),
    "audit.view": L_("View the audit log"),
    "jobs.view": L_("View background jobs"),
    "jobs.manage": L_("Retry and delete failed jobs"),
}

BUILTIN_OPERATOR_ROLES = {
    "sysadmin": (L_("System administrator"), frozenset(OPERATOR_PERMISSIONS)),
    "operator": (
        L_("Operator"),
        frozenset(
            {
                "users.view",
                "merchants.view",
                "merchants.manage",
                "applications.review",
                "products.review",
                "catalog.manage",
                "orders.view",
                "orders.manage",
                "marketing.manage",
                "audit.view",
            }
        ),
    ),
    "content_editor": (L_("Content editor"), frozenset({"content.manage", "merchants.view"})),
    "service_agent": (
        L_("Service agent"),
        frozenset({"users.view", "orders.view", "service.manage", "merchants.view"}),
    ),
    "finance": (
        L_("Finance"),
        frozenset({"finance.view", "finance.manage", "orders.view", "merchants.view", "audit.view"}),
    ),
}

MERCHANT_PERMISSIONS = {
    "store.manage": L_("Edit store settings and decoration"),
    "staff.manage": L_("Manage staff and roles"),
    "products.manage": L_("Manage products and inventory"),
    "orders.manage": L_("Handle orders and shipping"),
    "service.manage": L_("Handle after-sales and customer messages"),
    "marketing.manage": L_("Manage store marketing"),
    "finance.view": L_("View store finance"),
    "finance.manage": L_("Request withdrawals"),
    "oplog.view": L_("View the store operation log"),
}

BUILTIN_MERCHANT_ROLES = {
    "owner": (L_("Owner"), frozenset(MERCHANT_PERMISSIONS)),
    "product": (L_("Product manager"), frozenset({"products.manage"})),
    "orders": (L_("Order handler"), frozenset({"orders.manage"})),
    "service": (L_("Customer service"), frozenset({"service.manage", "orders.manage"})),
    "finance": (L_("Finance"), frozenset({"finance.view", "finance.manage"})),
}
