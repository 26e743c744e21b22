"""The store's money (M-10): balances by state, settlement statements (confirm, download as CSV or
XLSX, print), withdrawals to the verified bank account. Rules in ``mall.finance``."""

from __future__ import annotations

from flask import Response, current_app, g, redirect, render_template, request, url_for
from flask_login import current_user

from mall.exports import csv_bytes, xlsx_bytes
from mall.finance import settlement, withdrawals
from mall.i18n import _
from mall.merchant.access import require
from mall.merchant.views import blueprint
from mall.web.forms import page_number, run_step


@blueprint.get("/finance")
@require("finance.view")
def finance():
    return render_template(
        "merchant/finance/index.html",
        money=withdrawals.balances(g.merchant.id),
        statements=settlement.store_statements(page_number()),
        withdrawal_page=withdrawals.store_withdrawals(1),
        account=withdrawals.bank_account(g.merchant.id),
        can_manage="finance.manage" in g.permissions,
        statement_status=settlement.status_label,
        withdrawal_status=withdrawals.status_label,
        fee_bp=current_app.config["MALL_WITHDRAWAL_FEE_BP"],
        fee_min=current_app.config["MALL_WITHDRAWAL_FEE_MIN_CENTS"],
        least=current_app.config["MALL_WITHDRAWAL_MIN_CENTS"],
    )


@blueprint.get("/finance/statements/<int:statement_id>")
@require("finance.view")
def statement(statement_id: int):
    found = settlement.store_statement(statement_id)
    return render_template(
        "merchant/finance/statement.html",
        statement=found,
        lines=settlement.statement_lines(found),
        status_label=settlement.status_label,
        kind_label=settlement.kind_label,
        can_manage="finance.manage" in g.permissions,
        printable=request.args.get("print") == "1",
    )


@blueprint.get("/finance/statements/<int:statement_id>.<fmt>")
@require("finance.view")
def statement_export(statement_id: int, fmt: str):
    found = settlement.store_statement(statement_id)
    rows = settlement.export_rows(found)
    if fmt == "xlsx":
        data = xlsx_bytes("statement", settlement.EXPORT_COLUMNS, rows)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    elif fmt == "csv":
        data, mimetype = csv_bytes(settlement.EXPORT_COLUMNS, rows), "text/csv"
    else:
        return redirect(url_for("merchant.statement", statement_id=statement_id))
    return Response(
        data, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={found.number}.{fmt}"}
    )


@blueprint.post("/finance/statements/<int:statement_id>/confirm")
@require("finance.manage")
def confirm_statement(statement_id: int):
    run_step(
        lambda: settlement.confirm_statement(current_user, statement_id),
        _("Statement confirmed: its total is in your balance."),
    )
    return redirect(url_for("merchant.statement", statement_id=statement_id))


@blueprint.post("/finance/withdrawals")
@require("finance.manage")
def request_withdrawal():
    run_step(
        lambda: withdrawals.request_withdrawal(current_user, request.form.get("amount", "")),
        _("Withdrawal requested. Finance will review it."),
    )
    return redirect(url_for("merchant.finance"))
