"""Job registration, after-commit enqueueing and the worker-side runner."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from flask import has_app_context
from rq import Queue, Retry, get_current_job
from rq.job import validate_job_id
from sqlalchemy import event

from mall.extensions import db, redis_store
from mall.tenancy.binding import bind_merchant, current_merchant_id
from mall.tenancy.session import MallSession

log = logging.getLogger(__name__)

QUEUES = ("high", "default", "low")
DEFAULT_RETRY = Retry(max=3, interval=[10, 60, 300])  # backoff: 10 s, 1 min, 5 min
_PENDING_KEY = "mall.pending_jobs"


class TenantJobRejected(RuntimeError):
    """A job that works on store data arrived without a merchant id."""


def _register(func: Callable, *, tenant: bool, queue: str, retry: Retry | None) -> Callable:
    func.mall_job = {"tenant": tenant, "queue": queue, "retry": retry}
    func.path = f"{func.__module__}.{func.__qualname__}"
    return func


def tenant_job(func: Callable | None = None, *, queue: str = "default", retry: Retry | None = DEFAULT_RETRY):
    """Mark a job that runs inside one store's schema (it must be enqueued with a merchant)."""
    if func is None:
        return lambda f: _register(f, tenant=True, queue=queue, retry=retry)
    return _register(func, tenant=True, queue=queue, retry=retry)


def platform_job(func: Callable | None = None, *, queue: str = "default", retry: Retry | None = DEFAULT_RETRY):
    """Mark a job that works on platform data only."""
    if func is None:
        return lambda f: _register(f, tenant=False, queue=queue, retry=retry)
    return _register(func, tenant=False, queue=queue, retry=retry)


def get_queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_store.client)


def _job_spec(func: Callable) -> dict:
    spec = getattr(func, "mall_job", None)
    if spec is None:
        raise TypeError(f"{func!r} is not a job: decorate it with @tenant_job or @platform_job")
    return spec


def enqueue(func: Callable, *args: Any, merchant_id: int | None = None, job_id: str | None = None, **kwargs: Any):
    """Send ``func(*args, **kwargs)`` to the worker once the current transaction commits.

    A tenant job takes the merchant bound now unless ``merchant_id`` is given.
    """
    spec = _job_spec(func)
    if spec["tenant"]:
        merchant_id = merchant_id if merchant_id is not None else current_merchant_id()
        if merchant_id is None:
            raise TenantJobRejected(f"{func.path} needs a merchant: bind one or pass merchant_id")
        if job_id:
            # Job ids carry the store they belong to. Not "m1:x": RQ reserves ":" (job:execution keys).
            job_id = f"m{merchant_id}-{job_id}"
    if job_id is not None:
        validate_job_id(job_id)  # fail here, not silently after the commit
    session = db.session()
    if not session.in_transaction():
        _send(func.path, spec, merchant_id, args, kwargs, job_id)
        return
    # Remember the (innermost) transaction, so rolling back a savepoint drops only its own jobs.
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING_KEY, []).append(
        (transaction, (func.path, spec, merchant_id, args, kwargs, job_id))
    )


def _send(path: str, spec: dict, merchant_id: int | None, args, kwargs, job_id: str | None):
    queue = get_queue(spec["queue"])
    return queue.enqueue(
        run_job,
        path,
        merchant_id,
        list(args),
        dict(kwargs),
        job_id=job_id,
        retry=spec["retry"],
        meta={"merchant_id": merchant_id, "task": path},
        description=f"{path} (merchant {merchant_id})" if merchant_id else path,
        failure_ttl=30 * 24 * 3600,
    )


@event.listens_for(MallSession, "after_commit")
def _flush_pending(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released (after_commit fires for it too): wait for the real commit
    pending = session.info.pop(_PENDING_KEY, None)
    for _transaction, (path, spec, merchant_id, args, kwargs, job_id) in pending or ():
        try:
            _send(path, spec, merchant_id, args, kwargs, job_id)
        except Exception:  # the data is committed; losing a notification must not 500 the request
            log.exception("could not enqueue %s for merchant %s", path, merchant_id)


@event.listens_for(MallSession, "after_soft_rollback")
def _drop_pending(session, previous_transaction) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING_KEY, None)
        return
    pending = session.info.get(_PENDING_KEY)
    if pending:  # a savepoint was rolled back: drop the jobs enqueued inside it
        pending[:] = [p for p in pending if not _within(p[0], previous_transaction)]


def _within(transaction, ancestor) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def _resolve(path: str) -> Callable:
    module, _, name = path.rpartition(".")
    func = getattr(importlib.import_module(module), name)
    _job_spec(func)  # only registered jobs may run
    return func


_worker_app = None


def _app():
    global _worker_app
    if has_app_context():
        return None
    if _worker_app is None:
        from mall import create_app

        _worker_app = create_app()
    return _worker_app


def run_job(path: str, merchant_id: int | None, args: list, kwargs: dict) -> Any:
    """Executed by the RQ worker: app context, tenant binding, one commit."""
    func = _resolve(path)
    if func.mall_job["tenant"] and merchant_id is None:
        _reject(f"{path} is a tenant job and was enqueued without a merchant id")
    app = _app()
    ctx = app.app_context() if app is not None else None
    if ctx is not None:
        ctx.push()
    try:
        if merchant_id is not None:
            _check_merchant_exists(merchant_id)
            bind_merchant(merchant_id)
        try:
            result = func(*args, **kwargs)
            db.session.commit()
            return result
        except Exception:
            db.session.rollback()
            raise
        finally:
            bind_merchant(None)
    finally:
        if ctx is not None:
            db.session.remove()
            ctx.pop()


def _check_merchant_exists(merchant_id: int) -> None:
    from mall.tenancy.models import TenantSchema

    record = db.session.get(TenantSchema, merchant_id)
    if record is None or record.state != "active":
        _reject(f"merchant {merchant_id} has no active schema")


def _reject(message: str) -> None:
    """Fail the job for good: a rejected job can never succeed, so retrying it is pointless."""
    job = get_current_job()
    if job is not None:
        job.retries_left = 0
    raise TenantJobRejected(message)
