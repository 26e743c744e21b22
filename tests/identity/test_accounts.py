from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mall.identity import services as accounts
from mall.identity.models import User
from tests.conftest import PASSWORD, csrf_token, login


def register(client, **fields):
    data = {"username": "", "email": "", "phone": "", "password": PASSWORD, "confirm": PASSWORD}
    data.update(fields)
    data["csrf_token"] = csrf_token(client, "/account/register")
    return client.post("/account/register", data=data, headers={"Accept-Language": "en"})


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("abcd", "5–20 characters"),
        ("a" * 21, "5–20 characters"),
        ("bad-name", "5–20 characters"),
        ("has space", "5–20 characters"),
        ("1234567", "only digits"),
    ],
)
def test_registration_rejects_bad_usernames_and_writes_nothing(client, db, username, message):
    before = db.session.scalar(select(func.count(User.id)))
    response = register(client, username=username, email="x@example.test")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(User.id))) == before


def test_registration_accepts_cjk_usernames_and_logs_in(client, db):
    response = register(client, username="小明_2026", email="ming@example.test")
    assert response.status_code == 302 and response.headers["Location"].endswith("/account")
    user = db.session.scalar(select(User).where(User.username == "小明_2026"))
    assert user.email == "ming@example.test" and user.password_hash.startswith("$argon2id$")
    page = client.get("/account").get_data(as_text=True)
    assert "小明_2026" in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "", "phone": ""}, "email address or a mobile number"),
        ({"email": "not-an-email"}, "not a valid email"),
        ({"phone": "12345"}, "not a valid mobile"),
        ({"password": "short1", "confirm": "short1"}, "at least 8"),
        ({"password": "lettersonly", "confirm": "lettersonly"}, "letters and digits"),
        ({"password": "abc12345", "confirm": "abc12346"}, "passwords differ"),
    ],
)
def test_registration_errors_are_shown_per_field(client, db, fields, message):
    data = {"username": "goodname", "email": "good@example.test", **fields}
    response = register(client, **data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert not accounts.username_taken("goodname")


def test_duplicate_username_email_and_phone_are_refused(client, db, make_user):
    make_user("taken_one", email="taken@example.test", phone="13800138000")
    for fields, message in (
        ({"username": "TAKEN_ONE", "email": "new@example.test"}, "already taken"),
        ({"username": "fresh_one", "email": "Taken@Example.test"}, "email address is already registered"),
        ({"username": "fresh_two", "phone": "13800138000"}, "mobile number is already registered"),
    ):
        response = register(client, **fields)
        assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_live_username_check(client, db, make_user):
    make_user("someone")
    taken = client.get("/account/username-available?username=SomeOne", headers={"Accept-Language": "en"}).json
    free = client.get("/account/username-available?username=nobody_yet", headers={"Accept-Language": "en"}).json
    bad = client.get("/account/username-available?username=ab", headers={"Accept-Language": "en"}).json
    assert (taken["available"], free["available"], bad["available"]) == (False, True, False)
    assert "taken" in taken["message"]


@pytest.mark.parametrize("identifier", ["loginuser", "LOGINUSER", "login@example.test", "13911112222"])
def test_login_with_username_email_or_phone(client, db, make_user, identifier):
    make_user("loginuser", email="login@example.test", phone="13911112222")
    response = login(client, identifier)
    assert response.status_code == 302
    assert "loginuser" in client.get("/account").get_data(as_text=True)


def test_wrong_password_is_refused_with_a_message(client, db, make_user):
    make_user("loginuser")
    response = client.post(
        "/account/login",
        data={"identifier": "loginuser", "password": "wrong-pass1", "csrf_token": csrf_token(client)},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 400
    assert "Wrong username, email, mobile number or password" in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302  # still anonymous


def test_disabled_account_cannot_log_in(client, db, make_user):
    user = make_user()
    user.is_active = False
    db.session.flush()
    response = login(client, user.username)
    assert response.status_code == 400


def test_login_rate_limit_per_account(app, client, db, make_user):
    make_user("target")
    limit = app.config["LOGIN_MAX_ATTEMPTS_PER_ACCOUNT"]
    for _ in range(limit):
        assert login(client, "target", "wrong-pass1").status_code == 400
    response = client.post(
        "/account/login",
        data={"identifier": "target", "password": PASSWORD, "csrf_token": csrf_token(client)},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302  # the right password did not get in either


def test_login_rate_limit_per_ip(app, client, db, make_user):
    limit = app.config["LOGIN_MAX_ATTEMPTS_PER_IP"]
    make_user("other_target")
    for n in range(limit):
        login(client, f"nobody{n}", "wrong-pass1")
    assert login(client, "other_target").status_code == 429


def test_successful_login_resets_the_account_counter(app, client, db, make_user):
    make_user("resetme")
    for _ in range(app.config["LOGIN_MAX_ATTEMPTS_PER_ACCOUNT"] - 1):
        login(client, "resetme", "wrong-pass1")
    assert login(client, "resetme").status_code == 302
    client.post("/account/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert login(client, "resetme", "wrong-pass1").status_code == 400
    assert login(client, "resetme").status_code == 302


def test_forms_without_csrf_token_are_rejected(client, db, make_user):
    make_user("csrfuser")
    response = client.post("/account/login", data={"identifier": "csrfuser", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/account").status_code == 302
    response = client.post(
        "/account/register",
        data={"username": "nocsrf_user", "email": "n@example.test", "password": PASSWORD, "confirm": PASSWORD},
    )
    assert response.status_code == 400 and not accounts.username_taken("nocsrf_user")


def test_password_change_requires_old_password_and_logs_out_other_sessions(app, db, make_user):
    make_user("changer")
    first, second = app.test_client(), app.test_client()
    login(first, "changer")
    login(second, "changer")
    token = csrf_token(first, "/account/password")
    wrong = first.post(
        "/account/password",
        data={"old_password": "nope12345", "new_password": "newpass123", "confirm": "newpass123", "csrf_token": token},
    )
    assert wrong.status_code == 400
    ok = first.post(
        "/account/password",
        data={"old_password": PASSWORD, "new_password": "newpass123", "confirm": "newpass123", "csrf_token": token},
    )
    assert ok.status_code == 302
    assert first.get("/account").status_code == 200  # this session continues
    assert second.get("/account").status_code == 302  # the other one is logged out
    assert login(app.test_client(), "changer", "newpass123").status_code == 302


def test_session_cookie_is_hardened(app, client, db, make_user):
    make_user("cookieuser")
    response = login(client, "cookieuser")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_security_headers(client, db):
    headers = client.get("/").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "default-src 'self'" in headers["Content-Security-Policy"]


def test_open_redirect_after_login_is_refused(client, db, make_user):
    make_user("redirectee")
    response = client.post(
        "/account/login?next=//evil.example/x",
        data={"identifier": "redirectee", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.headers["Location"].endswith("/account")
