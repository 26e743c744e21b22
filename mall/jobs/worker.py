"""``mall worker``: an RQ worker (with RQ's scheduler for retries) plus the cron scheduler."""

from __future__ import annotations

import logging
import multiprocessing
from dataclasses import dataclass
from datetime import datetime

from rq import Worker
from rq.cron import CronScheduler
from rq.job import Job
from rq.registry import FailedJobRegistry

from mall.extensions import redis_store
from mall.jobs.core import QUEUES, get_queue, run_job

log = logging.getLogger(__name__)


def periodic_jobs() -> list[tuple[str, dict]]:
    """(job path, schedule) for every periodic job; domains add theirs here."""
    return [
        ("mall.mail.jobs.retry_unsent_mail", {"interval": 300}),
        ("mall.catalog.shelf.apply_shelf_schedules", {"interval": 60}),
        ("mall.trading.orders.close_unpaid_orders", {"interval": 60}),
        ("mall.trading.fulfilment.confirm_overdue_receipts", {"interval": 3600}),
        ("mall.trading.fulfilment.complete_due_orders", {"interval": 3600}),
        ("mall.trading.reviews.give_default_reviews", {"interval": 3600}),
        ("mall.trading.after_sales.run_due_cases", {"interval": 900}),
        ("mall.finance.settlement.settle_due", {"interval": 3600}),
        ("mall.finance.settlement.confirm_due_statements", {"interval": 3600}),
    ]


def _run_cron(redis_url: str) -> None:
    from redis import Redis

    cron = CronScheduler(
        connection=Redis.from_url(redis_url), name=f"mall-cron-{multiprocessing.current_process().pid}"
    )
    from mall.jobs.core import _resolve

    for path, schedule in periodic_jobs():
        queue = _resolve(path).mall_job["queue"]  # the queue the job declares
        cron.register(run_job, queue, args=(path, None, [], {}), name=path, **schedule)
    cron.start()


def run_worker(app, *, queues: tuple[str, ...] = QUEUES, burst: bool = False, with_cron: bool = True) -> None:
    """Work the queues until stopped (or until empty with ``burst``)."""
    cron_process = None
    if with_cron and not burst:
        cron_process = multiprocessing.get_context("spawn").Process(
            target=_run_cron, args=(app.config["REDIS_URL"],), daemon=True
        )
        cron_process.start()
    try:
        with app.app_context():
            worker = Worker([get_queue(q) for q in queues], connection=redis_store.client)
            worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
    finally:
        if cron_process is not None:
            cron_process.terminate()
            cron_process.join(5)


@dataclass
class FailedJob:
    id: str
    queue: str
    task: str
    merchant_id: int | None
    error: str
    failed_at: datetime | None
    retries_left: int | None


def failed_jobs(limit: int = 200) -> list[FailedJob]:
    """Failed jobs of every queue, newest first."""
    out: list[FailedJob] = []
    connection = redis_store.client
    for name in QUEUES:
        registry = FailedJobRegistry(name, connection=connection)
        ids = registry.get_job_ids(0, limit)
        for job in Job.fetch_many(ids, connection=connection):
            if job is None:
                continue
            result = job.latest_result()
            error = (result.exc_string if result is not None else None) or ""
            out.append(
                FailedJob(
                    id=job.id,
                    queue=name,
                    task=job.meta.get("task") or job.func_name,
                    merchant_id=job.meta.get("merchant_id"),
                    error=error.strip().splitlines()[-1] if error.strip() else "",
                    failed_at=job.ended_at,
                    retries_left=job.retries_left,
                )
            )
    out.sort(key=lambda j: j.failed_at or datetime.min, reverse=True)
    return out[:limit]


def requeue_failed(job_id: str) -> None:
    for name in QUEUES:
        registry = FailedJobRegistry(name, connection=redis_store.client)
        if job_id in registry.get_job_ids():
            registry.requeue(job_id)
            return
    raise KeyError(job_id)


def delete_failed(job_id: str) -> None:
    for name in QUEUES:
        registry = FailedJobRegistry(name, connection=redis_store.client)
        if job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)
            return
    raise KeyError(job_id)
