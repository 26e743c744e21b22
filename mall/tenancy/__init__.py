"""Per-merchant schema tenancy: binding, provisioning, migrations (see docs/ARCHITECTURE.md).

Exports are resolved lazily: ``mall.extensions`` imports ``mall.tenancy.session``
(the session class), and the rest of this package imports ``mall.extensions``.
"""

from importlib import import_module

_EXPORTS = {
    "bind_merchant": "binding",
    "cache_key": "binding",
    "current_merchant_id": "binding",
    "current_schema": "binding",
    "require_merchant_id": "binding",
    "tenant": "binding",
    "archive_merchant_schema": "provisioning",
    "provision_merchant_schema": "provisioning",
    "CrossTenantWrite": "session",
    "TenantError": "session",
    "TenantNotBound": "session",
    "schema_for": "session",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"mall.tenancy.{_EXPORTS[name]}"), name)
    raise AttributeError(name)
