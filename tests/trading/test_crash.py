"""A worker killed in the middle of a job leaves nothing half done, and the retried job finishes it:
the unpaid-order closer is killed (SIGKILL) after it has closed an order and released its stock but
before it commits."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from mall.catalog.models import StockMovement
from mall.tenancy import tenant
from mall.trading import cart as carts
from mall.trading import checkout as checkouts
from mall.trading import orders as order_service
from mall.trading.models import Order
from tests.trading.helpers import Mall, shopper, stock

WORKER = textwrap.dedent(
    """
    import pathlib, sys, time
    from mall import create_app
    from mall.trading import orders

    ready = pathlib.Path(sys.argv[1])
    real = orders._return_to_cart

    def stall(order, lines):
        real(order, lines)
        ready.write_text("closing")  # the order is closed and its stock released, not committed
        time.sleep(120)

    orders._return_to_cart = stall
    app = create_app()
    with app.app_context():
        orders.close_unpaid_orders()
    """
)


def test_a_killed_closer_leaves_no_half_state_and_the_retry_finishes(
    app, committed_db, make_user, make_merchant, tmp_path
):
    mall = Mall(make_merchant)
    user = shopper(make_user)
    checkout = checkouts.place_order(
        user.id, mall.fill_cart(user.id, (mall.green, 3)), idempotency_key=uuid.uuid4().hex
    )
    checkout.pay_by = datetime.now(UTC) - timedelta(minutes=1)
    order_id = checkout.orders[0].id
    committed_db.session.commit()
    assert stock(mall.tea_house, mall.green) == 7

    ready = tmp_path / "ready"
    env = {
        **os.environ,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": "crash-test",
        "MALL_EMBEDDED_WORKER": "0",
    }
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(ready)], env=env)
    try:
        for _ in range(600):
            if ready.exists() or worker.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.exists(), "the worker never reached the middle of the job"
        worker.kill()  # SIGKILL: no cleanup, no commit
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()

    committed_db.session.expire_all()
    assert committed_db.session.get(Order, order_id).status == "awaiting_payment"
    assert stock(mall.tea_house, mall.green) == 7
    with tenant(mall.tea_house.id):
        assert committed_db.session.scalars(select(StockMovement).where(StockMovement.reason == "cancel")).all() == []

    assert order_service.close_unpaid_orders() == 1  # the retry
    committed_db.session.expire_all()
    assert committed_db.session.get(Order, order_id).status == "closed"
    assert stock(mall.tea_house, mall.green) == 10
    assert [(i.title, i.line.quantity) for i in carts.view_cart(carts.find_cart(user_id=user.id)).items] == [
        ("Green tea", 3)
    ]
