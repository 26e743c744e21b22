"""Who may read a stored object through the app: /media for public objects, /files/<id> for private ones."""

from __future__ import annotations

import pytest

from mall.storage.services import store_upload
from tests.conftest import login
from tests.storage.conftest import image_bytes


@pytest.fixture()
def people(app, db, make_user, make_merchant):
    """An owner, a stranger, staff of the object's store, staff of another store and an operator."""
    owner = make_user("file_owner")
    stranger = make_user("file_stranger")
    staff = make_user("store_staff")
    other_staff = make_user("other_staff")
    operator = make_user("ops_person", operator_role="operator")
    merchant = make_merchant("Licence Store", slug="licence-store", owner=staff)
    make_merchant("Other Store", slug="other-store", owner=other_staff)
    return {
        "owner": owner,
        "stranger": stranger,
        "staff": staff,
        "other_staff": other_staff,
        "operator": operator,
        "merchant": merchant,
    }


@pytest.fixture()
def private_object(app, db, people):
    data = image_bytes("PNG", (32, 32))
    with app.test_request_context("/"):
        obj = store_upload(
            data,
            "licence.png",
            purpose="licence",
            private=True,
            owner_id=people["owner"].id,
            merchant_id=people["merchant"].id,
        )
    return obj, data


def _get_as(app, username: str | None, url: str):
    client = app.test_client()
    if username:
        response = login(client, username)
        assert response.status_code == 302, f"login as {username} failed"
    return client.get(url)


def test_anonymous_users_get_404_for_a_private_file(app, db, private_object):
    obj, _data = private_object
    response = _get_as(app, None, f"/files/{obj.id}")
    assert response.status_code == 404
    assert _data not in response.get_data()


def test_a_logged_in_stranger_gets_403(app, db, private_object):
    obj, data = private_object
    response = _get_as(app, "file_stranger", f"/files/{obj.id}")
    assert response.status_code == 403
    assert data not in response.get_data()


def test_staff_of_another_store_gets_403(app, db, private_object):
    obj, _data = private_object
    assert _get_as(app, "other_staff", f"/files/{obj.id}").status_code == 403


@pytest.mark.parametrize("who", ["file_owner", "store_staff", "ops_person"])
def test_owner_store_staff_and_operators_read_the_bytes_uncached(app, db, private_object, who):
    obj, data = private_object
    response = _get_as(app, who, f"/files/{obj.id}")
    assert response.status_code == 200
    assert response.get_data() == data
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == "inline; filename=licence.png"


def test_an_operator_without_merchants_view_is_refused(app, db, make_user, private_object):
    from mall.identity import services as accounts
    from mall.identity.models import OperatorRole

    role = OperatorRole(name="Jobs only", permissions=["jobs.view"])
    db.session.add(role)
    db.session.flush()
    accounts.grant_operator_role(make_user("jobs_watcher"), role_id=role.id)
    assert _get_as(app, "jobs_watcher", f"/files/{private_object[0].id}").status_code == 403


def test_unknown_file_ids_are_404(app, db, people):
    assert _get_as(app, "ops_person", "/files/999999999").status_code == 404


def test_a_public_object_is_served_at_media_with_long_caching(app, db):
    data = image_bytes("PNG", (16, 16))
    with app.test_request_context("/"):
        obj = store_upload(data, "logo.png", purpose="logos")
    response = _get_as(app, None, f"/media/{obj.key}")
    assert response.status_code == 200 and response.get_data() == data
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    # A public object is also readable by id, by anyone.
    assert _get_as(app, None, f"/files/{obj.id}").get_data() == data


def test_a_private_object_is_not_served_at_media(app, db, private_object):
    obj, data = private_object
    for who in (None, "file_owner", "ops_person"):
        response = _get_as(app, who, f"/media/{obj.key}")
        assert response.status_code == 404
        assert data not in response.get_data()


def test_media_only_serves_registered_objects(app, db):
    from mall.storage import get_storage

    with app.app_context():
        get_storage().save("public/stray/unregistered.png", b"not in the registry", content_type="image/png")
    assert _get_as(app, None, "/media/public/stray/unregistered.png").status_code == 404
    assert _get_as(app, None, "/media/../../etc/passwd").status_code == 404


def test_a_registered_object_whose_bytes_are_gone_is_404(app, db, private_object):
    from mall.storage import get_storage

    obj, _data = private_object
    with app.app_context():
        get_storage().delete(obj.key)
    assert _get_as(app, "file_owner", f"/files/{obj.id}").status_code == 404


def test_private_files_with_chinese_names_have_a_latin1_safe_disposition(app, db, people):
    with app.test_request_context("/"):
        obj = store_upload(
            image_bytes("PNG", (8, 8)),
            "营业执照.png",
            purpose="licence",
            private=True,
            owner_id=people["owner"].id,
        )
    response = _get_as(app, "file_owner", f"/files/{obj.id}")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    disposition.encode("latin-1")  # what a WSGI server must do with every header
    assert "filename*=UTF-8''%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7.png" in disposition


def test_filenames_with_quotes_or_newlines_cannot_break_the_header(app, db, people):
    with app.test_request_context("/"):
        obj = store_upload(
            image_bytes("PNG", (8, 8)), 'a"b\nc.png', purpose="licence", private=True, owner_id=people["owner"].id
        )
    response = _get_as(app, "file_owner", f"/files/{obj.id}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "inline; filename=abc.png"
