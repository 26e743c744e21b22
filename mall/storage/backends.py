"""Storage backends. Keys are relative paths like ``uploads/2026/11/abc.png``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlparse

from flask import current_app


class StorageError(RuntimeError):
    pass


def _clean_key(key: str) -> str:
    parts = [p for p in key.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise StorageError(f"invalid storage key: {key!r}")
    return "/".join(parts)


class Storage(Protocol):
    name: str

    def save(self, key: str, data: bytes, *, content_type: str, private: bool = False) -> None: ...
    def read(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def signed_url(self, key: str, *, expires: int = 300, filename: str | None = None) -> str | None: ...
    def check(self) -> None: ...


class LocalStorage:
    """Files under one folder; private objects are read only through checked views."""

    name = "local"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / _clean_key(key)).resolve()
        if self.root not in path.parents:
            raise StorageError(f"invalid storage key: {key!r}")
        return path

    def save(self, key: str, data: bytes, *, content_type: str, private: bool = False) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers never see half a file

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(f"no such object: {key}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def signed_url(self, key: str, *, expires: int = 300, filename: str | None = None) -> str | None:
        return None  # served by the app's checked view

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / ".healthz"
        probe.write_bytes(b"ok")
        probe.unlink()


class S3Storage:
    """An S3 bucket (AWS, MinIO, moto...). Credentials come from the usual AWS_* variables."""

    name = "s3"

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, region: str | None = None):
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        )

    def _key(self, key: str) -> str:
        key = _clean_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def save(self, key: str, data: bytes, *, content_type: str, private: bool = False) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    def read(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey as exc:
            raise StorageError(f"no such object: {key}") from exc

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def signed_url(self, key: str, *, expires: int = 300, filename: str | None = None) -> str | None:
        params = {"Bucket": self.bucket, "Key": self._key(key)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)


def storage_from_url(url: str) -> Storage:
    """``file:///abs/path`` or ``s3://bucket/prefix?endpoint_url=...&region=...``."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStorage(parsed.path)
    if parsed.scheme == "s3":
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        return S3Storage(parsed.netloc, parsed.path, endpoint_url=query.get("endpoint_url"), region=query.get("region"))
    raise StorageError(f"unsupported STORAGE_URL scheme: {parsed.scheme!r}")


def get_storage() -> Storage:
    ext = current_app.extensions
    if "mall.storage" not in ext:
        ext["mall.storage"] = storage_from_url(current_app.config["STORAGE_URL"])
    return ext["mall.storage"]
