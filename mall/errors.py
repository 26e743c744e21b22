"""Domain errors: exceptions carrying a message a user can read (already translated)."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule said no. Views turn it into a flash or form error and a 4xx."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


class NotFound(DomainError):
    status_code = 404


class PermissionDenied(DomainError):
    status_code = 403
