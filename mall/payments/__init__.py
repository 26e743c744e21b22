"""Payments (C-11): a provider interface, the built-in sandbox gateway, verified idempotent
notifications, captures posted to the ledger, refunds."""
