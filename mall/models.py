"""Imports every model module so both metadata collections are complete."""

from mall.audit.models import AuditEntry
from mall.decoration.models import DecorationDraft, DecorationVersion
from mall.favorites.models import StoreFollow
from mall.identity.models import OperatorRole, OperatorRoleAssignment, User
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
from mall.storage.models import StoredObject
from mall.tenancy.models import TenantModel, TenantSchema

__all__ = [
    "ApplicationEvent",
    "AuditEntry",
    "DecorationDraft",
    "DecorationVersion",
    "Merchant",
    "MerchantApplication",
    "MerchantMembership",
    "MerchantNote",
    "OperatorRole",
    "OperatorRoleAssignment",
    "OutboxMessage",
    "SiteMessage",
    "SmsMessage",
    "StaffInvitation",
    "StaffMember",
    "StaffRole",
    "StoreChangeRequest",
    "StoreFollow",
    "StoreProfile",
    "StoredObject",
    "TenantModel",
    "TenantSchema",
    "User",
]
