"""The two storage backends behind one interface: a local folder and a real S3 API (moto server)."""

from __future__ import annotations

import os
import urllib.request

import pytest
from botocore.exceptions import ClientError

from mall.storage import LocalStorage, S3Storage, storage_from_url
from mall.storage.backends import StorageError

TRAVERSALS = ["../x", "a/../../x", "a/../x", "..", "..\\x", "uploads/..\\..\\x", "", "/", "./."]


# --- local folder ---------------------------------------------------------------------------------


def test_local_save_read_exists_delete(tmp_path):
    store = storage_from_url(f"file://{tmp_path}")
    assert isinstance(store, LocalStorage) and store.name == "local"
    key = "uploads/2026/11/abc.png"
    assert not store.exists(key)

    store.save(key, b"\x89PNG bytes", content_type="image/png")
    assert store.exists(key)
    assert store.read(key) == b"\x89PNG bytes"
    assert (tmp_path / "uploads/2026/11/abc.png").read_bytes() == b"\x89PNG bytes"
    assert not list(tmp_path.rglob("*.part"))  # the temporary file was renamed into place

    store.save(key, b"second version", content_type="image/png")
    assert store.read(key) == b"second version"

    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # deleting twice is harmless
    with pytest.raises(StorageError, match="no such object"):
        store.read(key)
    assert store.signed_url("anything.png") is None  # served through the app's checked view


def test_local_private_flag_keeps_bytes_readable_by_the_app(tmp_path):
    store = LocalStorage(tmp_path)
    store.save("private/licence/1.pdf", b"%PDF-1.4", content_type="application/pdf", private=True)
    assert store.read("private/licence/1.pdf") == b"%PDF-1.4"


def test_local_keys_are_normalised_inside_the_root(tmp_path):
    store = LocalStorage(tmp_path / "media")
    store.save("/a//b/./c.txt", b"x", content_type="text/plain")
    assert (tmp_path / "media/a/b/c.txt").read_bytes() == b"x"
    assert store.read("a/b/c.txt") == b"x"


@pytest.mark.parametrize("key", TRAVERSALS)
def test_local_rejects_keys_that_leave_the_root(tmp_path, key):
    root = tmp_path / "media"
    store = LocalStorage(root)
    (tmp_path / "x").write_bytes(b"outside")
    with pytest.raises(StorageError, match="invalid storage key"):
        store.save(key, b"evil", content_type="text/plain")
    with pytest.raises(StorageError):
        store.read(key)
    with pytest.raises(StorageError):
        store.exists(key)
    with pytest.raises(StorageError):
        store.delete(key)
    assert (tmp_path / "x").read_bytes() == b"outside"


def test_local_rejects_a_symlink_that_points_outside_the_root(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwd").write_bytes(b"secret")
    os.symlink(outside, root / "link")
    store = LocalStorage(root)
    with pytest.raises(StorageError, match="invalid storage key"):
        store.read("link/passwd")
    with pytest.raises(StorageError):
        store.save("link/new", b"x", content_type="text/plain")
    assert not (outside / "new").exists()


def test_local_check_creates_the_root_and_fails_when_it_is_a_file(tmp_path):
    LocalStorage(tmp_path / "new" / "media").check()
    assert (tmp_path / "new" / "media").is_dir()
    assert not (tmp_path / "new" / "media" / ".healthz").exists()

    not_a_dir = tmp_path / "file"
    not_a_dir.write_bytes(b"")
    with pytest.raises(OSError):
        LocalStorage(not_a_dir).check()


def test_unknown_storage_scheme_is_refused():
    with pytest.raises(StorageError, match="unsupported"):
        storage_from_url("ftp://example.test/media")


# --- S3 (moto server: real HTTP, real signatures) -------------------------------------------------


def _s3(endpoint: str, bucket: str, prefix: str = "tenant-a/media") -> S3Storage:
    store = storage_from_url(f"s3://{bucket}/{prefix}?endpoint_url={endpoint}")
    assert isinstance(store, S3Storage) and store.name == "s3"
    return store


def test_s3_save_read_exists_delete_under_the_prefix(s3_endpoint, s3_bucket):
    bucket, client = s3_bucket
    store = _s3(s3_endpoint, bucket)
    key = "public/products/2026/11/abc.png"
    assert not store.exists(key)

    store.save(key, b"\x89PNG s3 bytes", content_type="image/png")
    assert store.exists(key)
    assert store.read(key) == b"\x89PNG s3 bytes"
    # Stored under the prefix, with its content type.
    head = client.head_object(Bucket=bucket, Key=f"tenant-a/media/{key}")
    assert head["ContentType"] == "image/png" and head["ContentLength"] == len(b"\x89PNG s3 bytes")
    listed = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert listed == [f"tenant-a/media/{key}"]

    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # S3 deletes are idempotent
    with pytest.raises(StorageError, match="no such object"):
        store.read(key)


def test_s3_without_prefix_uses_the_bare_key(s3_endpoint, s3_bucket):
    bucket, client = s3_bucket
    store = storage_from_url(f"s3://{bucket}?endpoint_url={s3_endpoint}&region=us-east-1")
    store.save("a/b.txt", b"hello", content_type="text/plain")
    assert client.get_object(Bucket=bucket, Key="a/b.txt")["Body"].read() == b"hello"


@pytest.mark.parametrize("key", ["../x", "a/../../x", ".."])
def test_s3_rejects_traversal_keys(s3_endpoint, s3_bucket, key):
    bucket, client = s3_bucket
    store = _s3(s3_endpoint, bucket)
    with pytest.raises(StorageError, match="invalid storage key"):
        store.save(key, b"evil", content_type="text/plain")
    with pytest.raises(StorageError):
        store.read(key)
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_s3_signed_url_serves_the_bytes_over_http(s3_endpoint, s3_bucket):
    bucket, _client = s3_bucket
    store = _s3(s3_endpoint, bucket)
    store.save("private/licence/scan.png", b"licence scan bytes", content_type="image/png", private=True)

    url = store.signed_url("private/licence/scan.png", expires=60)
    assert url.startswith(s3_endpoint + f"/{bucket}/tenant-a/media/private/licence/scan.png?")
    assert "Signature=" in url or "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.read() == b"licence scan bytes"
        assert response.headers["Content-Type"] == "image/png"

    named = store.signed_url("private/licence/scan.png", expires=60, filename="scan.png")
    with urllib.request.urlopen(named, timeout=10) as response:
        assert response.read() == b"licence scan bytes"
    # moto does not apply response overrides; the signed request carries the disposition for real S3.
    assert "response-content-disposition=attachment%3B%20filename%3D%22scan.png%22" in named


def test_s3_check_passes_for_the_bucket_and_fails_for_a_missing_one(s3_endpoint, s3_bucket):
    bucket, _client = s3_bucket
    _s3(s3_endpoint, bucket).check()
    with pytest.raises(ClientError):
        _s3(s3_endpoint, bucket + "-missing").check()
