"""Running background jobs in the test process.

``work(app)`` runs an RQ ``SimpleWorker`` in burst mode on the app's queues, with
RQ's scheduler enabled the way ``mall worker`` runs it (in burst mode the scheduler
moves due scheduled jobs - retries - to their queue once, before the jobs run).

The worker gets an app context of its own (so its own db session, as in the real
worker process) on the test's connection: the ``db`` fixture's outer transaction,
so it sees the test's flushed data and its commits are savepoint releases.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rq import SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from mall.extensions import db, redis_store
from mall.jobs.core import QUEUES, get_queue


def work(app, *, due: bool = False) -> bool:
    """Run every queued job once; with ``due``, scheduled retries are made due first."""
    if due:
        make_scheduled_due()
    with app.app_context():
        worker = SimpleWorker([get_queue(q) for q in QUEUES], connection=redis_store.client)
        worked = worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
    db.session.expire_all()  # the test's own session sees what the jobs wrote
    return worked


def make_scheduled_due() -> None:
    """Pretend the backoff interval has passed for every scheduled job."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    for name in QUEUES:
        registry = ScheduledJobRegistry(name, connection=redis_store.client)
        for job_id in registry.get_job_ids():
            registry.schedule(Job.fetch(job_id, connection=redis_store.client), past)


def queued_jobs() -> list[Job]:
    return [job for name in QUEUES for job in get_queue(name).get_jobs()]


def scheduled_ids(queue: str = "default") -> list[str]:
    return ScheduledJobRegistry(queue, connection=redis_store.client).get_job_ids()


def failed_ids(queue: str = "default") -> list[str]:
    return FailedJobRegistry(queue, connection=redis_store.client).get_job_ids()
