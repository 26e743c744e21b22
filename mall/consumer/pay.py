"""Paying a checkout (C-11): choose a way to pay, go to the provider's page, come back to the
outcome; and the endpoint where providers notify the mall (signed, verified, applied once)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from mall.consumer.views import blueprint
from mall.errors import DomainError
from mall.extensions import csrf, db
from mall.i18n import _
from mall.payments import bank_transfer as bank_transfers
from mall.payments import services as payments
from mall.payments.models import Payment
from mall.payments.providers import BadSignature
from mall.trading import orders as order_service


@blueprint.post("/checkouts/<int:checkout_id>/pay")
@login_required
def pay_checkout(checkout_id: int):
    try:
        _payment, url = payments.start_payment(current_user.id, checkout_id, request.form.get("provider", "sandbox"))
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("consumer.checkout_placed", checkout_id=checkout_id))
    db.session.commit()
    return redirect(url)


@blueprint.get("/payments/<int:payment_id>")
@login_required
def payment_return(payment_id: int):
    """Where the provider sends the buyer back: the outcome, or "waiting for confirmation"."""
    payment = db.session.scalar(select(Payment).where(Payment.id == payment_id, Payment.user_id == current_user.id))
    if payment is None:
        abort(404)
    checkout = order_service.get_buyer_checkout(current_user.id, payment.checkout_id)
    return render_template(
        "consumer/payment.html", payment=payment, checkout=checkout, status_label=order_service.status_label
    )


@blueprint.post("/payments/notify/<provider>")
@csrf.exempt
def payment_notification(provider: str):
    try:
        outcome = payments.handle_notification(provider, request.get_data(), request.headers)
    except BadSignature:
        db.session.commit()  # keep the rejected notification
        return "rejected", 400
    db.session.commit()
    return outcome, 200


@blueprint.get("/payments/<int:payment_id>/bank-transfer")
@login_required
def bank_transfer(payment_id: int):
    payment = db.session.scalar(
        select(Payment).where(
            Payment.id == payment_id, Payment.user_id == current_user.id, Payment.provider == "bank_transfer"
        )
    )
    if payment is None:
        abort(404)
    return render_template(
        "consumer/bank_transfer.html", payment=payment, account=current_app.config["MALL_BANK_ACCOUNT"]
    )


@blueprint.post("/payments/<int:payment_id>/proof")
@login_required
def bank_transfer_proof(payment_id: int):
    upload = request.files.get("proof")
    try:
        bank_transfers.upload_proof(
            current_user.id, payment_id, upload.read() if upload else b"", upload.filename if upload else ""
        )
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Receipt received. Finance will confirm your payment soon."), "success")
    return redirect(url_for("consumer.bank_transfer", payment_id=payment_id))
