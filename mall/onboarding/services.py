"""Opening a store: the application, its review and the approval that creates the store.

Every transition goes through ``_transition``: it checks the move is allowed, keeps
the history row (who, when, why), and notifies the applicant after the commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from mall.audit.services import record_audit
from mall.errors import DomainError, NotFound, PermissionDenied
from mall.extensions import db
from mall.i18n import L_, _
from mall.identity.access import has_operator_permission
from mall.identity.models import User
from mall.identity.services import EMAIL_RE, PHONE_RE, normalise_phone
from mall.notifications.services import notify
from mall.notifications.sms import check_verification_code, send_verification_code
from mall.onboarding.models import ApplicationEvent, MerchantApplication
from mall.storage.services import store_upload
from mall.web.urls import external_url

# Top-level business categories an applicant chooses from (the platform taxonomy maps onto these).
MAIN_CATEGORIES = {
    "apparel": L_("Apparel and shoes"),
    "beauty": L_("Beauty and personal care"),
    "food": L_("Food and drinks"),
    "home": L_("Home and furniture"),
    "digital": L_("Phones and electronics"),
    "appliances": L_("Home appliances"),
    "mother_baby": L_("Mother and baby"),
    "sports": L_("Sports and outdoors"),
    "books": L_("Books and stationery"),
    "health": L_("Health"),
    "jewellery": L_("Jewellery and watches"),
    "pets": L_("Pet supplies"),
}

STATUS_LABELS = {
    "draft": L_("Draft"),
    "submitted": L_("Submitted, waiting for review"),
    "needs_info": L_("More information needed"),
    "approved": L_("Approved"),
    "rejected": L_("Rejected"),
    "withdrawn": L_("Withdrawn"),
}

TRANSITIONS = {
    "draft": {"submitted", "withdrawn"},
    "submitted": {"approved", "rejected", "needs_info"},
    "needs_info": {"submitted", "withdrawn"},
    "approved": set(),
    "rejected": set(),
    "withdrawn": set(),
}

LICENCE_RE = re.compile(r"^[0-9A-Z]{15,18}$")  # unified social credit code (18) or older licence numbers (15)
ACCOUNT_RE = re.compile(r"^\d{8,30}$")


class ApplicationError(DomainError):
    pass


@dataclass(frozen=True)
class Step:
    key: str
    title: object
    fields: tuple[str, ...]


STEPS = (
    Step("subject", L_("Business details"), ("kind", "legal_name", "licence_number", "contact_name", "contact_email")),
    Step("phone", L_("Mobile number"), ("contact_phone",)),
    Step("documents", L_("Documents"), ("licence_file_id", "id_front_file_id", "id_back_file_id")),
    Step("bank", L_("Payout bank account"), ("bank_account_name", "bank_name", "bank_account_number")),
    Step("store", L_("Your store"), ("store_name", "store_slug", "main_categories")),
    Step("agreement", L_("Agreement"), ("agreement_accepted_at",)),
)
STEP_KEYS = tuple(s.key for s in STEPS)


# --- reading ---------------------------------------------------------------------------------------


def open_application_of(user: User) -> MerchantApplication | None:
    return db.session.scalar(
        select(MerchantApplication).where(
            MerchantApplication.applicant_id == user.id,
            MerchantApplication.status.in_(("draft", "submitted", "needs_info")),
        )
    )


def applications_of(user: User) -> list[MerchantApplication]:
    return list(
        db.session.scalars(
            select(MerchantApplication)
            .where(MerchantApplication.applicant_id == user.id)
            .order_by(MerchantApplication.id.desc())
        )
    )


def get_for_applicant(user: User, application_id: int) -> MerchantApplication:
    """The applicant's own application; someone else's is "not found", never shown."""
    application = db.session.get(MerchantApplication, application_id)
    if application is None or application.applicant_id != user.id:
        raise NotFound(_("No such application."))
    return application


def get_for_reviewer(operator: User, application_id: int) -> MerchantApplication:
    if not has_operator_permission(operator, "applications.review"):
        raise PermissionDenied(_("You do not have permission to review applications."))
    application = db.session.get(MerchantApplication, application_id)
    if application is None or application.status == "draft":
        raise NotFound(_("No such application."))
    return application


def missing_by_step(application: MerchantApplication) -> dict[str, list[str]]:
    """What is still missing, per step (empty lists when the application is complete)."""
    missing: dict[str, list[str]] = {}
    for step in STEPS:
        fields = [f for f in step.fields if not getattr(application, f)]
        if step.key == "phone" and application.contact_phone and not application.phone_verified_at:
            fields.append("phone_verified_at")
        if step.key == "subject" and application.kind == "individual" and "licence_number" in fields:
            fields.remove("licence_number")  # individuals may sell without a business licence
        if step.key == "documents" and application.kind == "individual" and "licence_file_id" in fields:
            fields.remove("licence_file_id")
        missing[step.key] = fields
    return missing


# --- the applicant -----------------------------------------------------------------------------------


def start_application(user: User) -> MerchantApplication:
    """The user's open application, or a new draft."""
    application = open_application_of(user)
    if application is not None:
        return application
    application = MerchantApplication(
        applicant_id=user.id, status="draft", kind="company", contact_email=user.email, contact_phone=user.phone
    )
    db.session.add(application)
    db.session.flush()
    _event(application, user, None, "draft", None)
    return application


def _require_editable(application: MerchantApplication) -> None:
    if not application.is_editable:
        raise ApplicationError(_("This application can no longer be changed."))


def _text(data: dict, name: str, *, required: bool, max_len: int, label: str) -> str | None:
    value = (data.get(name) or "").strip()
    if not value:
        if required:
            raise ApplicationError(_("%(field)s is required.", field=label), field=name)
        return None
    if len(value) > max_len:
        raise ApplicationError(
            _("%(field)s is too long (at most %(n)s characters).", field=label, n=max_len), field=name
        )
    return value


def save_step(application: MerchantApplication, actor: User, step: str, data: dict, files: dict | None = None) -> None:
    """Validate one step's fields and save them to the draft; on any error nothing changes."""
    _require_editable(application)
    if step not in STEP_KEYS or step in ("phone", "agreement"):
        raise NotFound(_("No such step."))
    changes = _STEP_VALIDATORS[step](application, data, files or {}, actor)
    for name, value in changes.items():
        setattr(application, name, value)
    db.session.flush()


def _validate_subject(application, data, files, actor) -> dict:
    kind = data.get("kind")
    if kind not in ("company", "individual"):
        raise ApplicationError(_("Choose company or individual."), field="kind")
    legal_name = _text(data, "legal_name", required=True, max_len=120, label=_("Legal name"))
    licence = (data.get("licence_number") or "").strip().upper() or None
    if kind == "company" and not licence:
        raise ApplicationError(_("A company needs its business licence number."), field="licence_number")
    if licence and not LICENCE_RE.match(licence):
        raise ApplicationError(_("A licence number has 15 or 18 letters and digits."), field="licence_number")
    contact_name = _text(data, "contact_name", required=True, max_len=60, label=_("Contact person"))
    email = (data.get("contact_email") or "").strip().lower()
    if not EMAIL_RE.match(email):
        raise ApplicationError(_("This is not a valid email address."), field="contact_email")
    return {
        "kind": kind,
        "legal_name": legal_name,
        "licence_number": licence,
        "contact_name": contact_name,
        "contact_email": email,
    }


def _validate_documents(application, data, files, actor) -> dict:
    changes = {}
    for name, purpose in (
        ("licence_file", "application-licence"),
        ("id_front_file", "application-id"),
        ("id_back_file", "application-id"),
    ):
        upload = files.get(name)
        if upload is None or not getattr(upload, "filename", ""):
            continue
        try:
            obj = store_upload(
                upload.read(),
                upload.filename,
                purpose=purpose,
                private=True,
                allow_pdf=True,
                owner_id=application.applicant_id,
            )
        except DomainError as error:
            raise ApplicationError(error.message, field=name) from error
        changes[f"{name}_id"] = obj.id
    if not changes:
        raise ApplicationError(_("Choose at least one file to upload."), field="licence_file")
    return changes


def _validate_bank(application, data, files, actor) -> dict:
    name = _text(data, "bank_account_name", required=True, max_len=120, label=_("Account holder"))
    bank = _text(data, "bank_name", required=True, max_len=120, label=_("Bank and branch"))
    number = re.sub(r"[\s-]", "", data.get("bank_account_number") or "")
    if not ACCOUNT_RE.match(number):
        raise ApplicationError(_("An account number has 8 to 30 digits."), field="bank_account_number")
    legal = application.legal_name
    if application.kind == "company" and legal and name != legal:
        raise ApplicationError(
            _("A company's payout account must be in the company's legal name (%(name)s).", name=legal),
            field="bank_account_name",
        )
    return {"bank_account_name": name, "bank_name": bank, "bank_account_number": number}


def _validate_store(application, data, files, actor) -> dict:
    from mall.merchants.services import slug_problem

    store_name = _text(data, "store_name", required=True, max_len=80, label=_("Store name"))
    slug = (data.get("store_slug") or "").strip().lower()
    problem = slug_problem(slug) or pending_slug_problem(slug, exclude_id=application.id)
    if problem:
        raise ApplicationError(problem, field="store_slug")
    categories = [c for c in (data.get("main_categories") or []) if c]
    if not categories:
        raise ApplicationError(_("Choose at least one main category."), field="main_categories")
    unknown = [c for c in categories if c not in MAIN_CATEGORIES]
    if unknown or len(categories) > 3:
        raise ApplicationError(_("Choose one to three of the listed categories."), field="main_categories")
    return {"store_name": store_name, "store_slug": slug, "main_categories": sorted(set(categories))}


_STEP_VALIDATORS = {
    "subject": _validate_subject,
    "documents": _validate_documents,
    "bank": _validate_bank,
    "store": _validate_store,
}


def pending_slug_problem(slug: str, exclude_id: int | None = None) -> str | None:
    """A slug already asked for by another open application is not free either."""
    clash = db.session.scalar(
        select(MerchantApplication.id).where(
            MerchantApplication.store_slug == slug,
            MerchantApplication.status.in_(("submitted", "needs_info")),
            MerchantApplication.id != (exclude_id or 0),
        )
    )
    return _("This address is already taken.") if clash else None


def send_phone_code(application: MerchantApplication, phone: str) -> str:
    """Text a verification code to ``phone`` (which becomes the contact phone once verified)."""
    _require_editable(application)
    phone = normalise_phone(phone) or ""
    if not PHONE_RE.match(phone):
        raise ApplicationError(_("This is not a valid mobile number."), field="contact_phone")
    send_verification_code(phone, f"application{application.id}")
    # Kept on the draft so the form shows it while the code is typed; verified only by the code.
    if phone != application.contact_phone:
        application.contact_phone = phone
        application.phone_verified_at = None
    db.session.flush()
    return phone


def verify_phone(application: MerchantApplication, phone: str, code: str) -> None:
    _require_editable(application)
    phone = normalise_phone(phone) or ""
    if not PHONE_RE.match(phone):
        raise ApplicationError(_("This is not a valid mobile number."), field="contact_phone")
    check_verification_code(phone, f"application{application.id}", code)
    application.contact_phone = phone
    application.phone_verified_at = datetime.now(UTC)
    db.session.flush()


def submit(application: MerchantApplication, actor: User, *, accept_agreement: bool) -> None:
    """Submit (or resubmit after questions): every step must be complete and the agreement accepted."""
    _require_editable(application)
    if not accept_agreement:
        raise ApplicationError(_("Please read and accept the merchant agreement."), field="accept")
    application.agreement_accepted_at = datetime.now(UTC)
    application.agreement_version = current_app.config["MERCHANT_AGREEMENT_VERSION"]
    missing = [STEPS[STEP_KEYS.index(k)].title for k, fields in missing_by_step(application).items() if fields]
    if missing:
        raise ApplicationError(_("Please complete: %(steps)s.", steps=", ".join(str(m) for m in missing)))
    problem = pending_slug_problem(application.store_slug, exclude_id=application.id)
    if problem:
        raise ApplicationError(problem, field="store_slug")
    application.submitted_at = datetime.now(UTC)
    _transition(application, actor, "submitted", None)


def answer_question(application: MerchantApplication, actor: User, text: str) -> None:
    """The applicant's reply to the operator's question (kept in the history); resubmitting is separate."""
    if application.status != "needs_info":
        raise ApplicationError(_("There is no open question on this application."))
    text = (text or "").strip()
    if not text:
        raise ApplicationError(_("Write your answer."), field="answer")
    _event(application, actor, "needs_info", "needs_info", text[:4000])


def withdraw(application: MerchantApplication, actor: User) -> None:
    _transition(application, actor, "withdrawn", None)


# --- the operator ----------------------------------------------------------------------------------


def ask_for_info(application: MerchantApplication, operator: User, question: str) -> None:
    question = (question or "").strip()
    if not question:
        raise ApplicationError(_("Write the question for the applicant."), field="note")
    _transition(application, operator, "needs_info", question[:4000], audit=True)


def reject(application: MerchantApplication, operator: User, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Give the reason for the rejection."), field="note")
    application.decision_reason = reason[:4000]
    application.decided_at = datetime.now(UTC)
    application.decided_by_id = operator.id
    _transition(application, operator, "rejected", reason[:4000], audit=True)


def approve(application: MerchantApplication, operator: User):
    """Atomic: merchant, schema, owner, slug/subdomain and deposit due, or nothing at all.

    The store is created inside a savepoint; if provisioning fails, the savepoint is
    rolled back, the application is untouched and the error says why.
    """
    from mall.merchants.models import Merchant
    from mall.merchants.services import create_merchant

    if "approved" not in TRANSITIONS[application.status]:
        raise ApplicationError(_("Only a submitted application can be approved."))
    applicant = db.session.get(User, application.applicant_id)
    savepoint = db.session.begin_nested()
    try:
        merchant: Merchant = create_merchant(application.store_name, application.store_slug, applicant)
        merchant.deposit_due_cents = current_app.config["MERCHANT_DEPOSIT_CENTS"]
        db.session.flush()
    except DomainError as error:
        savepoint.rollback()
        raise ApplicationError(_("The store could not be created: %(why)s", why=error.message)) from error
    except SQLAlchemyError as error:
        savepoint.rollback()
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        raise ApplicationError(_("The store could not be created: %(why)s", why=reason)) from error
    savepoint.commit()
    application.merchant_id = merchant.id
    application.deposit_due_cents = merchant.deposit_due_cents
    application.decided_at = datetime.now(UTC)
    application.decided_by_id = operator.id
    _transition(application, operator, "approved", None, audit=True)
    return merchant


# --- transitions -----------------------------------------------------------------------------------


def _event(application, actor, from_status, to_status, note) -> ApplicationEvent:
    event = ApplicationEvent(
        application_id=application.id,
        actor_id=getattr(actor, "id", None),
        from_status=from_status,
        to_status=to_status,
        note=note,
    )
    db.session.add(event)
    db.session.flush()
    return event


def _transition(
    application: MerchantApplication, actor: User, to_status: str, note: str | None, *, audit: bool = False
) -> None:
    if to_status not in TRANSITIONS[application.status]:
        raise ApplicationError(
            _(
                "An application that is “%(status)s” cannot become “%(to)s”.",
                status=STATUS_LABELS[application.status],
                to=STATUS_LABELS[to_status],
            )
        )
    from_status = application.status
    application.status = to_status
    _event(application, actor, from_status, to_status, note)
    if audit:
        record_audit(
            f"application.{to_status}",
            area="platform",
            obj=application,
            merchant_id=application.merchant_id,
            changes={"status": [from_status, to_status], **({"note": [None, note]} if note else {})},
        )
    _notify_applicant(application, to_status, note)


def _notify_applicant(application: MerchantApplication, status: str, note: str | None) -> None:
    subjects = {
        "submitted": L_("We received your store application"),
        "needs_info": L_("Your store application needs more information"),
        "approved": L_("Your store is open"),
        "rejected": L_("Your store application was not approved"),
        "withdrawn": L_("You withdrew your store application"),
    }
    if status not in subjects:
        return
    bodies = {
        "submitted": L_(
            "Thank you. We will review the application for “%(store)s” and tell you the result.",
            store=application.store_name,
        ),
        "needs_info": L_(
            "Our reviewer asks: %(note)s\nPlease answer and submit the application again.", note=note or ""
        ),
        "approved": L_(
            "“%(store)s” has been approved. Log in to the merchant centre to set up your store.",
            store=application.store_name,
        ),
        "rejected": L_("Reason: %(note)s", note=note or ""),
        "withdrawn": L_("The application for “%(store)s” is withdrawn.", store=application.store_name or "—"),
    }
    link = external_url("merchant.dashboard" if status == "approved" else "consumer.application")
    notify(application.applicant_id, subjects[status], bodies[status], link)


def review_queue(status: str | None = None, older_than_days: int | None = None) -> list[MerchantApplication]:
    """Applications waiting for (or past) review, oldest first."""
    stmt = select(MerchantApplication).where(MerchantApplication.status != "draft")
    if status:
        stmt = stmt.where(MerchantApplication.status == status)
    if older_than_days:
        from datetime import timedelta

        cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
        stmt = stmt.where(MerchantApplication.submitted_at <= cutoff)
    return list(db.session.scalars(stmt.order_by(MerchantApplication.submitted_at.asc().nullslast()).limit(500)))
