"""Accounts: registration, log in (rate limited), password change and reset, operator roles."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from mall.audit.services import record_audit
from mall.errors import DomainError, NotFound, PermissionDenied
from mall.extensions import db, redis_store
from mall.i18n import _
from mall.identity.models import OperatorRole, OperatorRoleAssignment, User
from mall.identity.passwords import hash_password, needs_rehash, verify_password
from mall.identity.permissions import BUILTIN_OPERATOR_ROLES, OPERATOR_PERMISSIONS
from mall.identity.roles import checked_role
from mall.web.ratelimit import hit, seconds_left

USERNAME_RE = re.compile(r"^[A-Za-z0-9_\u3400-\u4dbf\u4e00-\u9fff]{5,20}$")
PHONE_RE = re.compile(r"^(1[3-9]\d{9}|\+[1-9]\d{7,14})$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(DomainError):
    pass


class LoginThrottled(AccountError):
    status_code = 429


def normalise_phone(phone: str | None) -> str | None:
    phone = re.sub(r"[\s-]", "", phone or "")
    return phone or None


def username_problem(username: str) -> str | None:
    """Why ``username`` cannot be registered, or None if it can."""
    if not USERNAME_RE.match(username or ""):
        return _("5–20 characters: letters, digits, underscore or Chinese characters.")
    if username.isdigit():
        return _("A username cannot be only digits.")
    if username_taken(username):
        return _("This username is already taken.")
    return None


def username_taken(username: str) -> bool:
    return db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None


def password_problem(password: str) -> str | None:
    if len(password or "") < 8:
        return _("The password must have at least 8 characters.")
    if len(password) > 128:
        return _("The password must have at most 128 characters.")
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        return _("The password must contain letters and digits.")
    return None


def register_user(
    username: str,
    password: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    locale: str | None = None,
) -> User:
    """Create a consumer account; every rule is checked before anything is written."""
    username = (username or "").strip()
    email = (email or "").strip().lower() or None
    phone = normalise_phone(phone)
    problem = username_problem(username)
    if problem:
        raise AccountError(problem, field="username")
    if not email and not phone:
        raise AccountError(_("Give an email address or a mobile number."), field="email")
    if email:
        if not EMAIL_RE.match(email):
            raise AccountError(_("This is not a valid email address."), field="email")
        if db.session.scalar(select(User.id).where(func.lower(User.email) == email)):
            raise AccountError(_("This email address is already registered."), field="email")
    if phone:
        if not PHONE_RE.match(phone):
            raise AccountError(_("This is not a valid mobile number."), field="phone")
        if db.session.scalar(select(User.id).where(User.phone == phone)):
            raise AccountError(_("This mobile number is already registered."), field="phone")
    problem = password_problem(password)
    if problem:
        raise AccountError(problem, field="password")
    user = User(username=username, email=email, phone=phone, password_hash=hash_password(password), locale=locale)
    db.session.add(user)
    db.session.flush()
    return user


def find_user(identifier: str) -> User | None:
    """By username, email or phone (case-insensitive for the first two)."""
    identifier = (identifier or "").strip()
    if not identifier:
        return None
    if "@" in identifier:
        clause = func.lower(User.email) == identifier.lower()
    elif PHONE_RE.match(normalise_phone(identifier) or ""):
        clause = User.phone == normalise_phone(identifier)
    else:
        clause = func.lower(User.username) == identifier.lower()
    return db.session.scalar(select(User).where(clause))


def _throttle_keys(identifier: str, user: User | None, ip: str | None) -> tuple[str, str]:
    """Per account (the resolved user, so every spelling of a phone number counts together) and per IP."""
    if user is not None:
        account = f"u{user.id}"
    else:
        normalised = normalise_phone(identifier) if PHONE_RE.match(normalise_phone(identifier) or "") else identifier
        account = "x" + hashlib.sha256((normalised or "").strip().lower().encode()).hexdigest()[:32]
    return f"mall:login:acct:{account}", f"mall:login:ip:{ip or 'unknown'}"


def authenticate(identifier: str, password: str, *, ip: str | None = None) -> User:
    """Check credentials. Every attempt is counted before the check (atomic INCR, so parallel
    guesses cannot slip past the limit); a success clears the account's count and gives back
    its IP slot; too many attempts lock both out for LOGIN_LOCK_SECONDS."""
    cfg = current_app.config
    user = find_user(identifier)
    acct_key, ip_key = _throttle_keys(identifier, user, ip)
    window = cfg["LOGIN_LOCK_SECONDS"]
    account_ok = hit(acct_key, cfg["LOGIN_MAX_ATTEMPTS_PER_ACCOUNT"], window)
    ip_ok = hit(ip_key, cfg["LOGIN_MAX_ATTEMPTS_PER_IP"], window)
    if not (account_ok and ip_ok):
        minutes = max(1, -(-seconds_left(acct_key if not account_ok else ip_key) // 60))
        raise LoginThrottled(_("Too many failed log-in attempts. Try again in %(minutes)s minutes.", minutes=minutes))
    if not verify_password(user.password_hash if user else None, password or ""):
        raise AccountError(_("Wrong username, email, mobile number or password."))
    if not user.is_active:
        raise AccountError(_("This account is disabled. Contact customer service."))
    client = redis_store.client
    client.delete(acct_key)
    client.decr(ip_key)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = datetime.now(UTC)
    return user


def set_password(user: User, new_password: str) -> None:
    problem = password_problem(new_password)
    if problem:
        raise AccountError(problem, field="new_password")
    user.password_hash = hash_password(new_password)
    user.password_changed_at = datetime.now(UTC)
    db.session.flush()


def change_password(user: User, old_password: str, new_password: str) -> None:
    """The old password is required; other sessions of the user are logged out."""
    if not verify_password(user.password_hash, old_password or ""):
        raise AccountError(_("The current password is wrong."), field="old_password")
    set_password(user, new_password)


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="mall.password-reset")


def _password_stamp(user: User) -> str:
    # Part of the token: once the password changes, every earlier link is dead.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def check_rate(name: str, key: str, limit: int, window: int) -> None:
    """Throttle an action per key (an IP, a hashed identifier): raises a 429 error past ``limit``."""
    redis_key = f"mall:rate:{name}:{key}"
    if not hit(redis_key, limit, window):
        minutes = max(1, -(-seconds_left(redis_key) // 60))
        raise LoginThrottled(_("Too many requests. Please try again in %(minutes)s minutes.", minutes=minutes))


def _hashed(identifier: str) -> str:
    return hashlib.sha256((identifier or "").strip().lower().encode()).hexdigest()[:32]


def make_reset_token(user: User) -> str:
    return _reset_serializer().dumps({"uid": user.id, "stamp": _password_stamp(user)})


def request_password_reset(identifier: str, *, ip: str | None = None) -> User | None:
    """Email a signed reset link if an account with an email matches (the caller never tells which).

    Throttled per identifier (3 an hour, so nobody can flood an inbox) and per IP (20 an hour),
    whether or not the account exists.
    """
    from mall.mail.services import send_mail
    from mall.web.urls import external_url

    check_rate("reset-id", _hashed(identifier), 3, 3600)
    check_rate("reset-ip", ip or "unknown", 20, 3600)
    user = find_user(identifier)
    if user is None or not user.email or not user.is_active:
        return None
    link = external_url("consumer.reset_password", token=make_reset_token(user))
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    send_mail(
        user.email,
        _("Reset your mall password"),
        _(
            "Hello %(name)s,\n\nOpen this link to choose a new password (valid for %(minutes)s minutes):\n"
            "%(link)s\n\nIf you did not ask for this, ignore this email.",
            name=user.username,
            minutes=minutes,
            link=link,
        ),
    )
    return user


def reset_password(token: str, new_password: str) -> User:
    """Check the signed, time-limited, single-use token and set the new password."""
    try:
        data = _reset_serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    except SignatureExpired as exc:
        raise AccountError(_("This reset link has expired. Ask for a new one.")) from exc
    except BadSignature as exc:
        raise AccountError(_("This reset link is not valid.")) from exc
    user = db.session.get(User, data.get("uid"))
    if user is None or data.get("stamp") != _password_stamp(user):
        raise AccountError(_("This reset link has already been used."))
    set_password(user, new_password)
    return user


# --- operator roles -------------------------------------------------------------------------------


def create_operator_role(
    name: str, permissions: list[str], description: str | None = None, *, actor: User | None = None
) -> OperatorRole:
    """A custom operator role made of known permissions the actor holds (audited)."""
    name, permissions = checked_role(OperatorRole, name, permissions, OPERATOR_PERMISSIONS)
    check_can_grant(actor, permissions)
    role = OperatorRole(name=name, permissions=permissions, description=description)
    db.session.add(role)
    db.session.flush()
    record_audit("operator_role.create", area="platform", obj=role, changes={"permissions": role.permissions})
    return role


def check_can_grant(actor: User | None, permissions, *, target: User | None = None) -> None:
    """An operator hands out only permissions they hold, and never changes their own roles.

    ``actor`` None means the system itself (CLI, demo data), which may do anything.
    """
    if actor is None:
        return
    from mall.identity.access import operator_permissions

    if target is not None and target.id == actor.id:
        raise PermissionDenied(_("You cannot change your own roles."))
    beyond = sorted(set(permissions) - operator_permissions(actor))
    if beyond:
        raise PermissionDenied(_("You cannot grant permissions you do not hold: %(p)s", p=", ".join(beyond)))


def grant_operator_role(
    user: User, *, role_code: str | None = None, role_id: int | None = None, actor: User | None = None
) -> None:
    """Give ``user`` a built-in (``role_code``) or custom (``role_id``) operator role."""
    if role_code is not None:
        if role_code not in BUILTIN_OPERATOR_ROLES:
            raise NotFound(_("No such role."))
        check_can_grant(actor, BUILTIN_OPERATOR_ROLES[role_code][1], target=user)
        if any(a.role_code == role_code for a in user.operator_roles):
            return
        user.operator_roles.append(OperatorRoleAssignment(role_code=role_code))
    else:
        role = db.session.get(OperatorRole, role_id)
        if role is None:
            raise NotFound(_("No such role."))
        check_can_grant(actor, role.permissions or (), target=user)
        if any(a.role_id == role.id for a in user.operator_roles):
            return
        user.operator_roles.append(OperatorRoleAssignment(role_id=role.id, role=role))
    db.session.flush()
    record_audit("operator_role.grant", area="platform", obj=user, changes={"role": [None, role_code or role_id]})


def revoke_operator_role(user: User, assignment_id: int, *, actor: User | None = None) -> None:
    assignment = next((a for a in user.operator_roles if a.id == assignment_id), None)
    if assignment is None:
        raise NotFound(_("No such role assignment."))
    revoked = BUILTIN_OPERATOR_ROLES[assignment.role_code][1] if assignment.role_code else assignment.role.permissions
    check_can_grant(actor, revoked or (), target=user)
    label = assignment.role_code or assignment.role_id
    user.operator_roles.remove(assignment)
    db.session.flush()
    record_audit("operator_role.revoke", area="platform", obj=user, changes={"role": [label, None]})


def set_user_active(user: User, active: bool) -> None:
    if user.is_active == active:
        return
    user.is_active = active
    db.session.flush()
    record_audit(
        "user.enable" if active else "user.disable",
        area="platform",
        obj=user,
        changes={"is_active": [not active, active]},
    )
