"""Imports every model module so both metadata collections are complete."""

from mall.audit.models import AuditEntry
from mall.catalog.models import (
    BannerSlide,
    Brand,
    BrowsingHistory,
    Category,
    CategoryAttribute,
    CategorySpec,
    FavoriteFolder,
    HomeBlock,
    Product,
    ProductFavorite,
    ProductImage,
    ProductRevision,
    PublicProduct,
    RestockRequest,
    SearchTerm,
    Sku,
    StockMovement,
    Stocktake,
    StocktakeLine,
    StoreCategory,
    Tag,
)
from mall.decoration.models import DecorationDraft, DecorationVersion
from mall.favorites.models import StoreFollow
from mall.identity.models import OperatorRole, OperatorRoleAssignment, User
from mall.ledger.models import JournalEntry, JournalLine, LedgerAccount
from mall.mail.models import OutboxMessage
from mall.merchants.models import (
    Merchant,
    MerchantMembership,
    MerchantNote,
    StaffInvitation,
    StaffMember,
    StaffRole,
    StoreChangeRequest,
    StoreProfile,
)
from mall.notifications.models import SiteMessage, SmsMessage
from mall.onboarding.models import ApplicationEvent, MerchantApplication
from mall.payments.models import Payment, PaymentEvent, Refund, SandboxTransaction
from mall.storage.models import StoredObject
from mall.tenancy.models import TenantModel, TenantSchema
from mall.trading.models import Address, Cart, CartLine, Checkout, Order, OrderLine

__all__ = [
    "Address",
    "ApplicationEvent",
    "AuditEntry",
    "BannerSlide",
    "Brand",
    "BrowsingHistory",
    "Cart",
    "CartLine",
    "Category",
    "CategoryAttribute",
    "CategorySpec",
    "Checkout",
    "DecorationDraft",
    "DecorationVersion",
    "FavoriteFolder",
    "HomeBlock",
    "JournalEntry",
    "JournalLine",
    "LedgerAccount",
    "Merchant",
    "MerchantApplication",
    "MerchantMembership",
    "MerchantNote",
    "OperatorRole",
    "OperatorRoleAssignment",
    "Order",
    "OrderLine",
    "OutboxMessage",
    "Payment",
    "PaymentEvent",
    "Product",
    "ProductFavorite",
    "ProductImage",
    "ProductRevision",
    "PublicProduct",
    "Refund",
    "RestockRequest",
    "SandboxTransaction",
    "SearchTerm",
    "SiteMessage",
    "Sku",
    "SmsMessage",
    "StaffInvitation",
    "StaffMember",
    "StaffRole",
    "StockMovement",
    "Stocktake",
    "StocktakeLine",
    "StoreCategory",
    "StoreChangeRequest",
    "StoreFollow",
    "StoreProfile",
    "StoredObject",
    "Tag",
    "TenantModel",
    "TenantSchema",
    "User",
]
