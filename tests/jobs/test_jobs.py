"""Background jobs: tenant binding, after-commit enqueueing, retries, failed-job operations.

Jobs run in this process with an RQ ``SimpleWorker`` (``tests.jobs.helpers.work``)
against the real Redis; the jobs below are resolved by ``run_job`` through their
import path ``tests.jobs.test_jobs.<name>``, like any job of the application.
"""

from __future__ import annotations

import re

import pytest
from rq import Retry
from rq.job import Job, JobStatus
from rq.results import Result
from sqlalchemy import select, text

from mall.audit.models import AuditEntry
from mall.extensions import db as _db
from mall.extensions import redis_store
from mall.jobs import TenantJobRejected, enqueue, get_queue, platform_job, run_job, tenant_job
from mall.jobs.worker import failed_jobs
from mall.merchants.models import StaffRole
from mall.tenancy import bind_merchant, tenant
from mall.tenancy.binding import current_merchant_id
from tests.conftest import login
from tests.jobs.helpers import failed_ids, queued_jobs, scheduled_ids, work

ATTEMPTS = "test:jobs:attempts"


# --- jobs used by the tests (importable as tests.jobs.test_jobs.<name>) ---------------------------


@tenant_job(retry=None)
def add_role(name: str) -> int | None:
    """Insert a staff role in the bound store; return the store the job ran in."""
    _db.session.add(StaffRole(name=name))
    _db.session.flush()
    return current_merchant_id()


@tenant_job(retry=None)
def add_role_then_fail(name: str) -> None:
    _db.session.add(StaffRole(name=name))
    _db.session.flush()
    raise RuntimeError("failed after writing")


@tenant_job(retry=None)
def read_role(role_id: int) -> str | None:
    role = _db.session.get(StaffRole, role_id)
    return role.name if role is not None else None


@platform_job(retry=None)
def broken(reason: str = "boom") -> None:
    raise RuntimeError(f"broken job: {reason}")


@platform_job
def echo(value):
    return value


@platform_job(retry=Retry(max=2, interval=[30, 90]))
def flaky_with_backoff() -> None:
    redis_store.client.incr(ATTEMPTS)
    raise RuntimeError("still failing")


@platform_job(queue="low", retry=Retry(max=2, interval=[0, 0]))
def flaky_fast() -> None:
    redis_store.client.incr(ATTEMPTS)
    raise RuntimeError("fails every time")


def not_a_job() -> str:
    return "should never run"


# --- helpers --------------------------------------------------------------------------------------


def role_names(merchant_id: int) -> list[str]:
    with tenant(merchant_id):
        return sorted(_db.session.scalars(select(StaffRole.name)))


def fetch(job_id: str) -> Job:
    return Job.fetch(job_id, connection=redis_store.client)


def attempts() -> int:
    return int(redis_store.client.get(ATTEMPTS) or 0)


# --- (a) (b) tenant binding -----------------------------------------------------------------------


def test_tenant_job_runs_in_the_store_bound_when_enqueued(app, db, make_merchant):
    a, b = make_merchant(), make_merchant()
    a_id, b_id = a.id, b.id
    with tenant(a_id):
        enqueue(add_role, "Night shift")
    assert queued_jobs() == []  # nothing leaves before the commit
    db.session.commit()

    [job] = queued_jobs()
    assert job.origin == "default"
    assert job.meta == {"merchant_id": a_id, "task": "tests.jobs.test_jobs.add_role"}
    assert job.args == ("tests.jobs.test_jobs.add_role", a_id, ["Night shift"], {})

    assert work(app)
    job = fetch(job.id)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == a_id  # current_merchant_id() inside the job
    assert role_names(a_id) == ["Night shift"]
    assert role_names(b_id) == []
    in_schema = db.session.execute(text(f"SELECT name FROM m_{a_id}.staff_roles")).scalars().all()
    assert in_schema == ["Night shift"]
    assert current_merchant_id() is None  # the worker's binding did not leak into the test


def test_explicit_merchant_id_wins_over_the_bound_store(app, db, make_merchant):
    a, b = make_merchant(), make_merchant()
    a_id, b_id = a.id, b.id
    with tenant(a_id):
        enqueue(add_role, "For B", merchant_id=b_id)
    db.session.commit()
    work(app)
    [job_id] = get_queue().finished_job_registry.get_job_ids()
    assert fetch(job_id).return_value() == b_id
    assert role_names(b_id) == ["For B"]
    assert role_names(a_id) == []


def test_two_stores_jobs_in_one_burst_each_stay_in_their_store(app, db, make_merchant):
    a, b = make_merchant(), make_merchant()
    a_id, b_id = a.id, b.id
    enqueue(add_role, "Same name", merchant_id=a_id)
    bind_merchant(b_id)
    enqueue(add_role, "Same name")
    enqueue(add_role, "Only B")
    bind_merchant(None)
    db.session.commit()
    work(app)
    assert role_names(a_id) == ["Same name"]
    assert role_names(b_id) == ["Only B", "Same name"]


def test_job_sees_the_data_committed_with_it(app, db, make_merchant):
    a_id = make_merchant().id
    with tenant(a_id):
        role = StaffRole(name="Written with the job")
        db.session.add(role)
        db.session.flush()
        enqueue(read_role, role.id, job_id="read")
    db.session.commit()
    work(app)
    assert fetch(f"m{a_id}-read").return_value() == "Written with the job"


def test_failing_job_rolls_back_its_writes(app, db, make_merchant):
    a_id = make_merchant().id
    enqueue(add_role_then_fail, "Half done", merchant_id=a_id)
    db.session.commit()
    work(app)
    [job_id] = failed_ids()
    assert "failed after writing" in fetch(job_id).latest_result().exc_string
    assert role_names(a_id) == []


# --- (c) tenant jobs without a merchant -----------------------------------------------------------


def test_enqueue_of_tenant_job_without_merchant_is_refused(app, db, make_merchant):
    make_merchant()
    with pytest.raises(TenantJobRejected):
        enqueue(add_role, "Nowhere")
    db.session.commit()
    assert queued_jobs() == []
    # also outside any transaction (where enqueue would send at once)
    db.session.remove()
    with pytest.raises(TenantJobRejected):
        enqueue(add_role, "Nowhere")
    assert queued_jobs() == []


def test_raw_tenant_job_without_merchant_fails_in_the_worker(app, db, make_merchant):
    a_id = make_merchant().id
    db.session.commit()
    # Bypass enqueue(): what a buggy or malicious producer could put on the queue.
    raw = get_queue("default").enqueue(run_job, "tests.jobs.test_jobs.add_role", None, ["Sneaky"], {})
    work(app)

    job = fetch(raw.id)
    assert job.get_status() == JobStatus.FAILED
    assert raw.id in failed_ids("default")
    result = job.latest_result()
    assert result.type == Result.Type.FAILED
    assert "TenantJobRejected" in result.exc_string
    assert "enqueued without a merchant id" in result.exc_string
    assert role_names(a_id) == []
    [shown] = [f for f in failed_jobs() if f.id == raw.id]
    assert shown.error.startswith("mall.jobs.core.TenantJobRejected")


@tenant_job  # the default retry policy: a rejection must still not be retried
def add_role_retried(name: str) -> int | None:
    return add_role(name)


def test_tenant_job_for_a_store_without_active_schema_is_rejected_for_good(app, db):
    enqueue(add_role_retried, "Ghost", merchant_id=987654321)
    work(app)
    [job_id] = failed_ids()
    assert "has no active schema" in fetch(job_id).latest_result().exc_string
    assert scheduled_ids() == [] and fetch(job_id).retries_left == 0


def test_only_registered_jobs_run(app, db):
    with pytest.raises(TypeError, match="is not a job"):
        enqueue(not_a_job)
    raw = get_queue("default").enqueue(run_job, "tests.jobs.test_jobs.not_a_job", None, [], {})
    raw_os = get_queue("default").enqueue(run_job, "os.getcwd", None, [], {})
    work(app)
    for job_id in (raw.id, raw_os.id):
        job = fetch(job_id)
        assert job.get_status() == JobStatus.FAILED
        assert "is not a job" in job.latest_result().exc_string


# --- (d) after-commit / rollback ------------------------------------------------------------------


def test_rollback_drops_pending_jobs(app, db, make_merchant, make_user):
    a_id = make_merchant().id
    with tenant(a_id):
        enqueue(add_role, "Never")
    enqueue(echo, "never")
    db.session.rollback()
    assert queued_jobs() == []
    make_user()  # a later transaction of the same session commits: nothing from before is sent
    db.session.commit()
    assert queued_jobs() == []
    assert work(app) is False


def test_jobs_of_a_committed_transaction_are_sent_once(app, db, make_user):
    make_user()
    enqueue(echo, 1)
    enqueue(echo, 2)
    db.session.commit()
    assert [j.args[2] for j in queued_jobs()] == [[1], [2]]
    make_user()
    db.session.commit()  # the next commit does not send them again
    assert len(queued_jobs()) == 2
    work(app)
    finished = get_queue().finished_job_registry.get_job_ids()
    assert sorted(fetch(i).return_value() for i in finished) == [1, 2]


def test_outside_a_transaction_enqueue_sends_at_once(app, db):
    db.session.remove()
    enqueue(echo, "now")
    assert [j.args[2] for j in queued_jobs()] == [["now"]]


def test_rollback_of_a_savepoint_drops_the_jobs_enqueued_inside_it(app, db, make_user):
    make_user()
    enqueue(echo, "outer")
    try:
        with db.session.begin_nested():
            make_user()
            enqueue(echo, "inner")
            raise RuntimeError("abandon the savepoint")
    except RuntimeError:
        pass
    with db.session.begin_nested():
        enqueue(echo, "kept")
    db.session.commit()
    assert [j.args[2] for j in queued_jobs()] == [["outer"], ["kept"]]


def test_releasing_a_savepoint_does_not_send_the_jobs_yet(app, db, make_user):
    make_user()
    enqueue(echo, "outer")
    with db.session.begin_nested():
        enqueue(echo, "inner")
    assert queued_jobs() == []  # RELEASE SAVEPOINT is not the commit
    db.session.rollback()  # ... and the transaction may still be rolled back
    assert queued_jobs() == []
    make_user()
    db.session.commit()
    assert queued_jobs() == []


def test_commit_with_a_savepoint_still_open_sends_everything(app, db, make_user):
    make_user()
    enqueue(echo, "outer")
    db.session.begin_nested()
    enqueue(echo, "inner")
    db.session.commit()  # commits the savepoint and the transaction
    assert [j.args[2] for j in queued_jobs()] == [["outer"], ["inner"]]


# --- (e) retries ----------------------------------------------------------------------------------


def test_failing_job_is_retried_with_backoff_then_lands_in_failed_jobs(app, db, make_user):
    make_user()
    enqueue(flaky_with_backoff, job_id="flaky")
    db.session.commit()
    [job] = queued_jobs()
    assert job.id == "flaky"  # platform jobs keep their id
    assert (job.retries_left, job.retry_intervals) == (2, [30, 90])

    work(app)  # attempt 1 fails: scheduled in 30 s
    job = fetch("flaky")
    assert attempts() == 1
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.retries_left == 1
    assert scheduled_ids() == ["flaky"]
    registry = get_queue().scheduled_job_registry
    delay = (registry.get_scheduled_time("flaky") - job.ended_at).total_seconds()
    assert 28 <= delay <= 32
    assert failed_jobs() == []

    work(app)  # not due yet: nothing runs
    assert attempts() == 1

    work(app, due=True)  # attempt 2 fails: scheduled in 90 s
    job = fetch("flaky")
    assert attempts() == 2 and job.retries_left == 0
    assert job.get_status() == JobStatus.SCHEDULED
    delay = (registry.get_scheduled_time("flaky") - job.ended_at).total_seconds()
    assert 88 <= delay <= 92

    work(app, due=True)  # attempt 3 fails: no retries left
    job = fetch("flaky")
    assert attempts() == 3
    assert job.get_status() == JobStatus.FAILED
    assert scheduled_ids() == [] and failed_ids() == ["flaky"]
    [failed] = failed_jobs()
    assert failed.id == "flaky" and failed.queue == "default"
    assert failed.task == "tests.jobs.test_jobs.flaky_with_backoff"
    assert failed.merchant_id is None and failed.retries_left == 0
    assert failed.error == "RuntimeError: still failing"
    assert failed.failed_at is not None


def test_retries_without_interval_run_in_the_same_burst(app, db):
    enqueue(flaky_fast)
    work(app)
    assert attempts() == 3  # first run + 2 retries
    [failed] = failed_jobs()
    assert failed.queue == "low" and failed.task == "tests.jobs.test_jobs.flaky_fast"
    assert failed.error == "RuntimeError: fails every time"


def test_default_retry_policy_is_three_times_with_growing_backoff(app, db):
    enqueue(echo, "x", job_id="plain")
    job = fetch("plain")
    assert job.retries_left == 3 and job.retry_intervals == [10, 60, 300]


# --- (f) operators --------------------------------------------------------------------------------


def _failed_job(app, db, **kw) -> str:
    enqueue(broken, **kw)
    db.session.commit()
    work(app)
    [job_id] = failed_ids()
    return job_id


def _en(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _page_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no csrf token on the failed jobs page"
    return match.group(1)


def test_sysadmin_sees_retries_and_deletes_failed_jobs(app, db, client, make_user):
    admin = make_user(operator_role="sysadmin")
    admin_id, admin_name = admin.id, admin.username
    job_id = _failed_job(app, db, reason="disk full", job_id="to-retry")
    _en(client)
    assert login(client, admin_name, area="platform").status_code == 302

    page = client.get("/platform/platform_jobs/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "tests.jobs.test_jobs.broken" in html
    assert "RuntimeError: broken job: disk full" in html
    assert f'data-job="{job_id}"' in html
    token = _page_token(html)

    # retry: back on its queue, audited
    response = client.post(f"/platform/platform_jobs/{job_id}/retry", data={"csrf_token": token})
    assert response.status_code == 302
    assert failed_ids() == [] and [j.id for j in queued_jobs()] == [job_id]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "job.retry"))
    assert (entry.object_type, entry.object_id, entry.area) == ("Job", job_id, "platform")
    assert entry.actor_id == admin_id

    work(app)  # fails again
    assert failed_ids() == [job_id]
    assert "No failed jobs" not in client.get("/platform/platform_jobs/").get_data(as_text=True)

    # delete: gone from Redis altogether, audited
    response = client.post(f"/platform/platform_jobs/{job_id}/delete", data={"csrf_token": token})
    assert response.status_code == 302
    assert failed_ids() == [] and not Job.exists(job_id, connection=redis_store.client)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "job.delete"))
    assert (entry.object_id, entry.actor_id) == (job_id, admin_id)
    assert "No failed jobs" in client.get("/platform/platform_jobs/").get_data(as_text=True)

    # unknown job, unknown operation, missing CSRF token
    assert client.post("/platform/platform_jobs/nope/retry", data={"csrf_token": token}).status_code == 404
    job_id = _failed_job(app, db, job_id="second")
    assert client.post(f"/platform/platform_jobs/{job_id}/explode", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/platform/platform_jobs/{job_id}/delete").status_code == 400
    assert failed_ids() == [job_id]


def test_failed_tenant_job_shows_its_merchant(app, db, client, make_user, make_merchant):
    admin_name = make_user(operator_role="sysadmin").username
    a_id = make_merchant().id
    enqueue(add_role_then_fail, "x", merchant_id=a_id, job_id="half")
    db.session.commit()
    work(app)
    _en(client)
    login(client, admin_name, area="platform")
    html = client.get("/platform/platform_jobs/").get_data(as_text=True)
    row = re.search(rf'<tr data-job="m{a_id}-half">(.*?)</tr>', html, re.S).group(1)
    assert "tests.jobs.test_jobs.add_role_then_fail" in row
    assert f"<td>{a_id}</td>" in row


def test_failed_jobs_page_needs_the_jobs_permission(app, db, client, make_user):
    editor_name = make_user(operator_role="content_editor").username
    job_id = _failed_job(app, db)
    _en(client)
    assert login(client, editor_name, area="platform").status_code == 302
    assert client.get("/platform/platform_jobs/").status_code == 403
    token = _page_token(client.get("/platform/login").get_data(as_text=True))
    for op in ("retry", "delete"):
        assert client.post(f"/platform/platform_jobs/{job_id}/{op}", data={"csrf_token": token}).status_code == 403
    assert failed_ids() == [job_id]
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action.like("job.%"))) is None


def test_failed_jobs_page_sends_anonymous_users_to_log_in(app, db, client):
    response = client.get("/platform/platform_jobs/")
    assert response.status_code == 302 and "/platform/login" in response.headers["Location"]


# --- (g) job ids ----------------------------------------------------------------------------------


def test_tenant_job_ids_carry_the_merchant(app, db, make_merchant):
    a, b = make_merchant(), make_merchant()
    a_id, b_id = a.id, b.id
    with tenant(a_id):
        enqueue(add_role, "One", job_id="x")
    enqueue(add_role, "Two", merchant_id=b_id, job_id="x")  # same id, other store: no clash
    enqueue(echo, "platform", job_id="x")
    db.session.commit()
    assert sorted(j.id for j in queued_jobs()) == sorted([f"m{a_id}-x", f"m{b_id}-x", "x"])
    work(app)
    assert fetch(f"m{a_id}-x").return_value() == a_id
    assert fetch(f"m{b_id}-x").return_value() == b_id
    assert fetch("x").return_value() == "platform"
    assert role_names(a_id) == ["One"] and role_names(b_id) == ["Two"]


def test_invalid_job_id_fails_at_enqueue_not_silently_after_commit(app, db, make_merchant):
    a_id = make_merchant().id
    with tenant(a_id), pytest.raises(ValueError, match="Job ID"):
        enqueue(add_role, "x", job_id="has:colon")
    with pytest.raises(ValueError, match="Job ID"):
        enqueue(echo, "x", job_id="has space")
    db.session.commit()
    assert queued_jobs() == []


def test_real_commit_sends_and_savepoint_rules_hold_outside_the_test_transaction(app, committed_db, make_user):
    """The same rules with real commits (no outer test transaction): production's session setup."""
    db = committed_db
    make_user()
    enqueue(echo, "outer")
    with db.session.begin_nested():
        enqueue(echo, "released")
    try:
        with db.session.begin_nested():
            enqueue(echo, "rolled back")
            raise RuntimeError
    except RuntimeError:
        pass
    assert queued_jobs() == []
    db.session.commit()
    assert [j.args[2] for j in queued_jobs()] == [["outer"], ["released"]]
    make_user()
    enqueue(echo, "dropped")
    db.session.rollback()
    assert len(queued_jobs()) == 2
