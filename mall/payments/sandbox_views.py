"""The sandbox gateway's own pages (as a real provider's site): the hosted payment page where the
buyer pays, fails or cancels, and the transaction report (operators with ``finance.view``)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request
from flask_login import current_user

from mall.extensions import db
from mall.identity.access import operator_permissions
from mall.payments import sandbox
from mall.payments.models import SandboxTransaction

blueprint = Blueprint("sandbox", __name__, url_prefix="/sandbox-pay", template_folder="templates")


@blueprint.get("/<txn_id>")
def hosted_page(txn_id: str):
    txn = db.session.get(SandboxTransaction, txn_id)
    if txn is None or txn.kind != "payment":
        abort(404)
    return render_template("sandbox/pay.html", txn=txn)


@blueprint.post("/<txn_id>")
def decide(txn_id: str):
    outcome = request.form.get("outcome")
    if outcome not in ("pay", "fail", "cancel"):
        abort(400)
    try:
        txn = sandbox.decide(txn_id, outcome)
    except sandbox.SandboxError:
        abort(404)
    db.session.commit()
    return redirect(txn.return_url or "/")


@blueprint.get("/report.csv")
def report():
    if not current_user.is_authenticated or "finance.view" not in operator_permissions(current_user):
        abort(403)
    return Response(
        sandbox.transaction_report(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=sandbox-transactions.csv"},
    )
