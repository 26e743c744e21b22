"""Object storage: one interface, a local folder backend and an S3 backend."""

from mall.storage.backends import LocalStorage, S3Storage, Storage, get_storage, storage_from_url

__all__ = ["LocalStorage", "S3Storage", "Storage", "get_storage", "storage_from_url"]
