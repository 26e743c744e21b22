"""The payment provider interface. A provider sends the buyer to its payment page, tells the mall
the outcome by a signed asynchronous notification (possibly late, repeated or out of order), and
refunds on request, with the outcome again by notification."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from mall.payments.models import Payment, Refund

NOTIFICATION_KINDS = ("payment.succeeded", "payment.failed", "payment.cancelled", "refund.succeeded", "refund.failed")


class BadSignature(Exception):
    """A notification whose signature does not verify: it is not from the provider."""


@dataclass(frozen=True)
class Notification:
    event_id: str  # the provider's id of this event: the same event delivered twice has the same id
    kind: str  # one of NOTIFICATION_KINDS
    transaction_id: str  # the provider's payment or refund id (our provider_ref)
    amount_cents: int
    reason: str | None = None


class PaymentProvider(Protocol):
    code: str

    def start_payment(self, payment: Payment, return_url: str) -> str:
        """Register the payment with the provider (setting ``payment.provider_ref``); the URL of the
        provider's page where the buyer pays."""

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        """The notification in ``body`` if its signature verifies, else ``BadSignature``."""

    def start_refund(self, refund: Refund, payment: Payment) -> None:
        """Ask the provider to refund (setting ``refund.provider_ref``); the outcome is notified."""


_PROVIDERS: dict[str, PaymentProvider] = {}


def register_provider(provider: PaymentProvider) -> PaymentProvider:
    _PROVIDERS[provider.code] = provider
    return provider


def get_provider(code: str) -> PaymentProvider | None:
    from mall.payments import bank_transfer, sandbox  # noqa: F401  (register the built-in providers)

    return _PROVIDERS.get(code)
