"""Password reset through the web, with the email delivered by the mail job to a real SMTP server.

The SMTP server is aiosmtpd on 127.0.0.1; jobs run in this process with an RQ
``SimpleWorker`` (``tests.jobs.helpers.work``) against the real Redis.
"""

from __future__ import annotations

import re
import socket
import time
from email import message_from_bytes
from email import policy as email_policy

import pytest
from aiosmtpd.controller import Controller
from itsdangerous import TimestampSigner
from rq.job import Job
from sqlalchemy import select

from mall.extensions import redis_store
from mall.identity import services as accounts
from mall.jobs import enqueue
from mall.jobs.worker import failed_jobs
from mall.mail.jobs import retry_unsent_mail
from mall.mail.models import OutboxMessage
from tests.conftest import PASSWORD, csrf_token, login
from tests.jobs.helpers import queued_jobs, scheduled_ids, work

NEW_PASSWORD = "brandNew2026"
NEUTRAL = "If an account with an email address matches, we have sent it a link to reset the password."
LINK_RE = re.compile(r"http://mall\.test(/account/reset/[A-Za-z0-9_.\-]+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self):
        return [message_from_bytes(e.content, policy=email_policy.default) for e in self.envelopes]


def start_smtp(port: int) -> tuple[Controller, Collector]:
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, handler


@pytest.fixture()
def smtp(app, monkeypatch):
    controller, handler = start_smtp(free_port())
    monkeypatch.setitem(app.config, "MAIL_URL", f"smtp://127.0.0.1:{controller.port}")  # restored after
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture()
def en(app):
    """A new English-speaking client (own cookies), for as many as a test needs."""

    def make():
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        return client

    return make


def ask_for_reset(client, identifier: str):
    token = csrf_token(client, "/account/forgot-password")
    return client.post(
        "/account/forgot-password",
        data={"identifier": identifier, "csrf_token": token},
        follow_redirects=True,
    )


def post_new_password(client, path: str, password: str = NEW_PASSWORD):
    token = csrf_token(client, path)
    return client.post(path, data={"new_password": password, "confirm": password, "csrf_token": token})


def body_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def outbox_for(db, address: str) -> list[OutboxMessage]:
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.to_address == address).order_by(OutboxMessage.id)
    ).all()


# --- the round trip -------------------------------------------------------------------------------


def test_reset_round_trip_through_smtp(app, db, smtp, en, make_user):
    user = make_user(email="forgetful@example.test")
    username = user.username

    response = ask_for_reset(en(), "forgetful@example.test")
    assert response.status_code == 200 and response.request.path == "/account/login"
    assert NEUTRAL in response.get_data(as_text=True)
    assert smtp.envelopes == []  # sent by the job, not by the request

    assert work(app)
    [envelope] = smtp.envelopes
    assert envelope.rcpt_tos == ["forgetful@example.test"]
    [message] = smtp.messages
    assert message["To"] == "forgetful@example.test"
    assert message["Subject"] == "Reset your mall password"
    assert message["From"] == app.config["MAIL_FROM"]
    body = body_of(message)
    assert f"Hello {username}," in body and "valid for 60 minutes" in body
    [path] = LINK_RE.findall(body)
    [row] = outbox_for(db, "forgetful@example.test")
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None) and row.sent_at is not None

    browser = en()
    page = browser.get(path)
    assert page.status_code == 200 and "Choose a new password" in page.get_data(as_text=True)
    response = post_new_password(browser, path)
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/login")
    assert "Your password has been reset" in browser.get("/account/login").get_data(as_text=True)

    assert login(en(), username, NEW_PASSWORD).status_code == 302
    old = login(en(), username, PASSWORD)
    assert old.status_code == 400 and "Wrong username, email, mobile number or password" in old.get_data(as_text=True)

    # the link works once: the password it was made for is gone
    again = post_new_password(en(), path, "anotherOne99")
    assert again.status_code == 400  # a link error: flashed on the form page, refused
    assert "This reset link has already been used." in again.get_data(as_text=True)
    assert login(en(), username, NEW_PASSWORD).status_code == 302


def test_reset_by_username_mails_the_accounts_address(app, db, smtp, en, make_user):
    user = make_user(email="by.name@example.test")
    ask_for_reset(en(), user.username)
    work(app)
    assert [e.rcpt_tos for e in smtp.envelopes] == [["by.name@example.test"]]


def test_expired_link_is_refused(app, db, en, make_user):
    user = make_user()
    username = user.username
    max_age = app.config["PASSWORD_RESET_MAX_AGE"]

    class SignedLongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - max_age - 60

    with app.test_request_context():
        serializer = accounts._reset_serializer()  # the app's key and salt, a signature from the past
        serializer.signer = SignedLongAgo
        token = serializer.dumps({"uid": user.id, "stamp": accounts._password_stamp(user)})
    response = post_new_password(en(), f"/account/reset/{token}")
    assert "This reset link has expired. Ask for a new one." in response.get_data(as_text=True)
    assert "Location" not in response.headers
    assert login(en(), username, PASSWORD).status_code == 302  # password unchanged


def test_emailed_link_expires_after_max_age(app, db, smtp, en, make_user, monkeypatch):
    user = make_user(email="slow@example.test")
    ask_for_reset(en(), "slow@example.test")
    work(app)
    [path] = LINK_RE.findall(body_of(smtp.messages[0]))
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MAX_AGE", -1)  # every link is now too old
    response = post_new_password(en(), path)
    assert "This reset link has expired." in response.get_data(as_text=True)
    assert login(en(), user.username, NEW_PASSWORD).status_code == 400  # not changed
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MAX_AGE", 3600)
    assert post_new_password(en(), path).status_code == 302
    assert login(en(), user.username, NEW_PASSWORD).status_code == 302


def test_tampered_link_is_refused(app, db, en, make_user):
    user = make_user()
    with app.test_request_context():
        token = accounts.make_reset_token(user)
    response = post_new_password(en(), f"/account/reset/{token[:-2]}xx")
    assert "This reset link is not valid." in response.get_data(as_text=True)
    assert "Location" not in response.headers
    assert login(en(), user.username, PASSWORD).status_code == 302


def test_unknown_address_gets_the_same_answer_and_no_mail(app, db, smtp, en, make_user):
    make_user(email="someone@example.test")
    response = ask_for_reset(en(), "nobody@example.test")
    assert response.status_code == 200 and response.request.path == "/account/login"
    assert NEUTRAL in response.get_data(as_text=True)
    assert queued_jobs() == []
    assert work(app) is False
    assert smtp.envelopes == []
    assert outbox_for(db, "nobody@example.test") == []


def test_account_without_email_or_disabled_gets_no_mail(app, db, smtp, en, make_user):
    phone_only = make_user(email=None, phone="13800138000")
    phone_only.email = None
    disabled = make_user(email="disabled@example.test")
    disabled.is_active = False
    db.session.flush()
    for identifier in (phone_only.username, "disabled@example.test"):
        assert NEUTRAL in ask_for_reset(en(), identifier).get_data(as_text=True)
    work(app)
    assert smtp.envelopes == []


# --- delivery without SMTP, and with SMTP down ----------------------------------------------------


def test_without_mail_url_the_message_is_logged_in_the_outbox(app, db, en, make_user):
    assert not app.config.get("MAIL_URL")
    make_user(email="devmode@example.test")
    ask_for_reset(en(), "devmode@example.test")
    work(app)
    [row] = outbox_for(db, "devmode@example.test")
    assert (row.status, row.attempts, row.last_error) == ("logged", 1, None)
    assert row.sent_at is not None
    assert LINK_RE.search(row.body_text)
    assert failed_jobs() == []


def test_smtp_down_marks_the_row_failed_and_the_job_is_retried(app, db, en, make_user, monkeypatch):
    port = free_port()  # nothing listens here
    monkeypatch.setitem(app.config, "MAIL_URL", f"smtp://127.0.0.1:{port}")
    make_user(email="unlucky@example.test")
    ask_for_reset(en(), "unlucky@example.test")

    work(app)
    [row] = outbox_for(db, "unlucky@example.test")
    assert row.status == "failed" and row.attempts == 1 and row.sent_at is None
    assert row.last_error.startswith("ConnectionRefusedError")
    [job_id] = scheduled_ids("high")  # retried with backoff, not given up
    job = Job.fetch(job_id, connection=redis_store.client)
    assert job.retries_left == 2 and job.retry_intervals == [10, 60, 300]
    assert job.meta["task"] == "mall.mail.jobs.deliver_mail"
    assert failed_jobs() == []

    # the server comes back; the retry delivers and clears the error
    controller, handler = start_smtp(port)
    try:
        work(app, due=True)
    finally:
        controller.stop()
    db.session.refresh(row)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    [envelope] = handler.envelopes
    assert envelope.rcpt_tos == ["unlucky@example.test"]
    assert LINK_RE.search(body_of(handler.messages[0]))


def test_periodic_retry_resends_failed_mail_once(app, db, en, make_user, monkeypatch):
    port = free_port()
    monkeypatch.setitem(app.config, "MAIL_URL", f"smtp://127.0.0.1:{port}")
    make_user(email="patient@example.test")
    ask_for_reset(en(), "patient@example.test")
    work(app)
    [row] = outbox_for(db, "patient@example.test")
    assert row.status == "failed"

    controller, handler = start_smtp(port)
    try:
        enqueue(retry_unsent_mail)  # what the cron scheduler runs every 5 minutes
        db.session.commit()
        work(app)  # retry_unsent_mail (low) re-enqueues deliver_mail (high), which sends
        db.session.refresh(row)
        assert row.status == "sent" and len(handler.envelopes) == 1
        work(app, due=True)  # the original job's own retry finds it sent: no second email
        assert len(handler.envelopes) == 1
    finally:
        controller.stop()
    db.session.refresh(row)
    assert (row.status, row.attempts) == ("sent", 2)
