"""Accounts (one model for everyone) and operator roles, in the platform schema."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mall.extensions import db


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(60))
    locale: Mapped[str | None] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    operator_roles: Mapped[list[OperatorRoleAssignment]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    def get_id(self) -> str:
        # The session token changes with the password, so a password change logs out other sessions.
        stamp = int(self.password_changed_at.timestamp()) if self.password_changed_at else 0
        return f"{self.id}:{stamp}"

    @property
    def is_operator(self) -> bool:
        return bool(self.operator_roles)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username}>"


# Usernames and emails are unique regardless of case.
Index("uq_users_username_lower", func.lower(User.username), unique=True)
Index("uq_users_email_lower", func.lower(User.email), unique=True)


class OperatorRole(db.Model):
    """A custom operator role: a named set of permission codes."""

    __tablename__ = "operator_roles"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    permissions: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def __str__(self) -> str:
        return self.name


class OperatorRoleAssignment(db.Model):
    """A user holds a built-in role (``role_code``) or a custom one (``role_id``)."""

    __tablename__ = "operator_role_assignments"
    __table_args__ = (
        CheckConstraint("num_nonnulls(role_code, role_id) = 1", name="one_role"),
        Index("uq_operator_role_assignments_builtin", "user_id", "role_code", unique=True),
        Index("uq_operator_role_assignments_custom", "user_id", "role_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role_code: Mapped[str | None] = mapped_column(String(40))
    role_id: Mapped[int | None] = mapped_column(ForeignKey("operator_roles.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    user: Mapped[User] = relationship(back_populates="operator_roles")
    role: Mapped[OperatorRole | None] = relationship(lazy="joined")
