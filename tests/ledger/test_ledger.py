"""The ledger core: balanced immutable entries, cached balances, idempotent posting, the check."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from mall.ledger.models import JournalEntry, JournalLine, LedgerAccount
from mall.ledger.services import (
    LedgerError,
    balance,
    check_ledger,
    merchant_account,
    normal_balance,
    platform_account,
    post,
)

CLEARING = platform_account("provider_clearing")
DEFERRED = platform_account("commission_deferred")


def _capture(merchant_id: int, paid: int, commission: int, key: str | None = None):
    """A buyer's payment: the provider holds it, the merchant is owed it less commission."""
    return post(
        "payment_captured",
        f"payment:{key or 'x'}",
        [
            (CLEARING, paid),
            (merchant_account(merchant_id, "pending"), -(paid - commission)),
            (DEFERRED, -commission),
        ],
        idempotency_key=key,
    )


def _entries(db) -> int:
    return db.session.scalar(select(func.count()).select_from(JournalEntry))


def test_a_balanced_entry_moves_every_account_and_keeps_its_lines(db, make_merchant):
    store = make_merchant()
    entry = _capture(store.id, 10000, 500)
    assert [(line.account.code, line.amount_cents) for line in entry.lines] == sorted(
        [(CLEARING, 10000), (merchant_account(store.id, "pending"), -9500), (DEFERRED, -500)]
    )
    assert balance(CLEARING) == 10000 and normal_balance(CLEARING) == 10000
    assert balance(merchant_account(store.id, "pending")) == -9500
    assert normal_balance(merchant_account(store.id, "pending")) == 9500  # what the mall owes the store
    account = db.session.scalar(
        select(LedgerAccount).where(LedgerAccount.code == merchant_account(store.id, "pending"))
    )
    assert account.kind == "liability" and account.merchant_id == store.id
    _capture(store.id, 2000, 100)
    assert normal_balance(merchant_account(store.id, "pending")) == 9500 + 1900
    assert check_ledger().ok


@pytest.mark.parametrize(
    "postings, message",
    [
        ([(CLEARING, 100), (DEFERRED, -99)], "differ by 1 cents"),
        ([(CLEARING, 100)], "two accounts"),
        ([(CLEARING, 100), (CLEARING, -100)], "two accounts"),  # nets to nothing
        ([(CLEARING, 100.0), (DEFERRED, -100)], "must be int cents"),
        ([(CLEARING, Decimal("1.00")), (DEFERRED, -1)], "must be int cents"),
        ([(CLEARING, True), (DEFERRED, -1)], "must be int cents"),
        ([(CLEARING, 100), ("platform:petty_cash", -100)], "unknown account"),
        ([(CLEARING, 100), ("merchant:abc:pending", -100)], "unknown account"),
    ],
)
def test_postings_that_do_not_balance_or_are_not_cents_are_refused_before_writing(db, postings, message):
    before = _entries(db)
    with pytest.raises(LedgerError, match=message):
        post("test", "ref:1", postings)
    assert _entries(db) == before and balance(CLEARING) == 0


def test_posting_the_same_event_twice_counts_once(db, make_merchant):
    store = make_merchant()
    first = _capture(store.id, 3000, 150, key="provider-event-77")
    second = _capture(store.id, 3000, 150, key="provider-event-77")
    assert second.id == first.id
    assert balance(CLEARING) == 3000 and _entries(db) == 1


def test_the_database_refuses_an_unbalanced_insert(db, make_merchant):
    entry = _capture(make_merchant().id, 100, 5)
    account_id = db.session.scalar(select(LedgerAccount.id).where(LedgerAccount.code == CLEARING))
    with pytest.raises(DBAPIError, match="does not balance"), db.session.begin_nested():
        db.session.execute(
            text("INSERT INTO journal_lines (entry_id, account_id, amount_cents) VALUES (:e, :a, 1)"),
            {"e": entry.id, "a": account_id},
        )
    assert db.session.scalar(select(func.count()).where(JournalLine.entry_id == entry.id)) == 3


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal_lines SET amount_cents = amount_cents * 2",
        "DELETE FROM journal_lines",
        "UPDATE journal_entries SET memo = 'changed'",
        "DELETE FROM journal_entries",
    ],
)
def test_journal_rows_can_never_be_changed_or_deleted(db, make_merchant, statement):
    _capture(make_merchant().id, 100, 5)
    with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
        db.session.execute(text(statement))
    assert balance(CLEARING) == 100 and check_ledger().ok


def test_the_check_finds_a_cached_balance_that_drifted(app, db, make_merchant):
    from mall.cli import ledger_check

    store = make_merchant()
    _capture(store.id, 4000, 200)
    runner = app.test_cli_runner()
    ok = runner.invoke(ledger_check)
    assert ok.exit_code == 0 and "1 entries, 3 lines, 3 accounts" in ok.output and "ledger OK" in ok.output
    code = merchant_account(store.id, "pending")
    db.session.execute(
        text("UPDATE ledger_accounts SET balance_cents = balance_cents - 1 WHERE code = :c"), {"c": code}
    )
    result = check_ledger()
    assert not result.ok and result.wrong_balances == [(code, -3801, -3800)] and result.unbalanced == []
    bad = runner.invoke(ledger_check)
    assert bad.exit_code == 1 and f"account {code}: cached balance -3801 cents, its lines sum to -3800" in bad.output


def test_concurrent_posts_to_the_same_accounts_lose_nothing(app, committed_db, make_merchant):
    store_id = make_merchant().id  # read here: the threads must not touch this session's objects
    committed_db.session.commit()
    errors: list[BaseException] = []

    def buyer(n: int) -> None:
        try:
            with app.app_context():
                for i in range(20):
                    _capture(store_id, 1000 + n, 50, key=f"event-{n}-{i}")
                    committed_db.session.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=buyer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    committed_db.session.expire_all()
    assert balance(CLEARING) == sum((1000 + n) * 20 for n in range(4))
    assert normal_balance(DEFERRED) == 50 * 80
    assert check_ledger().ok and check_ledger().entries == 80
