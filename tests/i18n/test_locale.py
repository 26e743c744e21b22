"""Which language a page renders in.

Order (mall/i18n.py ``select_locale``): the logged-in user's saved locale, then the ``/lang/<code>``
switch kept in the session, then Accept-Language, then the default zh_Hans_CN.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import login

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def html_lang(html: str) -> str:
    match = re.search(r"<html[^>]*\blang=\"([^\"]+)\"", html)
    assert match, "no <html lang=...>"
    return match.group(1)


def title(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match, "no <title>"
    return match.group(1)


def page(client, path: str = "/account/login", headers: dict | None = None) -> str:
    response = client.get(path, headers=headers or {})
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def assert_chinese(html: str) -> None:
    assert html_lang(html) == "zh-CN"
    assert "登录" in html
    assert "Log in" not in html


def assert_english(html: str) -> None:
    assert html_lang(html) == "en"
    assert "Log in" in html
    assert "登录" not in html


def test_default_is_simplified_chinese(client):
    html = page(client)
    assert_chinese(html)
    # Lazy strings (form labels from L_) are translated per request too.
    assert "用户名/邮箱/手机号" in html and "Username, email or mobile" not in html
    assert "登录" in title(html) and "商城" in title(html)


@pytest.mark.parametrize("header", ["zh-CN", "zh-CN,zh;q=0.9,en;q=0.8", "zh", "zh-Hans", "zh-TW", "fr-FR,fr;q=0.9"])
def test_chinese_accept_language_or_unknown_language_gives_chinese(client, header):
    assert_chinese(page(client, headers={"Accept-Language": header}))


@pytest.mark.parametrize("header", ["en", "en-US,en;q=0.9", "en-GB", "fr;q=0.9,en;q=0.8,zh;q=0.1"])
def test_english_accept_language_gives_english(client, header):
    html = page(client, headers={"Accept-Language": header})
    assert_english(html)
    assert "Username, email or mobile" in html and "用户名/邮箱/手机号" not in html
    assert "Log in" in title(html) and "Mall" in title(html)


def test_language_switch_in_the_session_beats_accept_language(client):
    response = client.get("/lang/en?next=/account/login", headers=ZH)
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/login")
    assert_english(page(client, headers=ZH))
    assert_english(page(client, "/", headers=ZH))

    client.get("/lang/zh_Hans_CN", headers=EN)
    assert_chinese(page(client, headers=EN))
    # The visitor's menu and search bar are rendered once per locale (static_part), not once.
    assert_chinese(page(client, "/", headers=EN))

    client.get("/lang/en")
    client.get("/lang/zh-CN")  # aliases normalise to our catalog names
    assert_chinese(page(client, headers=EN))


def test_switch_returns_to_the_page_it_came_from_but_never_off_site(client):
    response = client.get("/lang/en", headers={"Referer": "http://mall.test/account/register?x=1"})
    assert response.headers["Location"].endswith("/account/register?x=1")
    response = client.get("/lang/en", headers={"Referer": "https://evil.example/phish"})
    assert response.headers["Location"] in ("/", "http://mall.test/")
    response = client.get("/lang/en?next=//evil.example/")
    assert "evil.example" not in response.headers["Location"]


def test_unknown_language_code_is_404_and_keeps_the_choice(client):
    client.get("/lang/en")
    assert client.get("/lang/xx").status_code == 404
    assert_english(page(client, headers=ZH))


def test_saved_user_locale_beats_session_and_accept_language(client, make_user):
    user = make_user(locale="en")
    assert login(client, user.username).status_code == 302
    with client.session_transaction() as session:
        session["lang"] = "zh_Hans_CN"  # e.g. chosen on this device before logging in
    html = page(client, "/account", headers=ZH)
    assert html_lang(html) == "en"
    assert "My account" in html and "我的账号" not in html


def test_switching_while_logged_in_saves_the_choice_on_the_account(app, client, db, make_user):
    from mall.identity.models import User

    user = make_user(locale="zh_Hans_CN")
    login(client, user.username)
    assert html_lang(page(client, "/account", headers=EN)) == "zh-CN"  # the saved zh wins over the header

    client.get("/lang/en")
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "en"

    # Another device (fresh session, Chinese browser) gets the user's choice once logged in.
    other = app.test_client()
    assert html_lang(page(other, "/account/login", headers=ZH)) == "zh-CN"
    login(other, user.username)
    html = page(other, "/account", headers=ZH)
    assert html_lang(html) == "en" and "My account" in html


def test_logged_in_user_without_saved_locale_follows_the_browser(client, make_user):
    user = make_user(locale=None)
    login(client, user.username)
    assert html_lang(page(client, "/account", headers=EN)) == "en"
    assert html_lang(page(client, "/account", headers=ZH)) == "zh-CN"


def test_error_pages_and_flashes_are_translated(client, make_user):
    zh = client.get("/no-such-page", headers=ZH)
    en = client.get("/no-such-page", headers=EN)
    assert zh.status_code == en.status_code == 404
    assert "您访问的页面不存在。" in zh.get_data(as_text=True)
    assert "This page does not exist." in en.get_data(as_text=True)

    client.get("/lang/en")
    # Not logged in: redirected to the log-in page with a (lazy) flash message in the chosen language.
    response = client.get("/account", follow_redirects=True, headers=ZH)
    assert "Please log in to continue." in response.get_data(as_text=True)
