"""Background jobs on RQ.

* ``enqueue`` records a job on the current transaction and sends it to Redis only
  after the commit (a rollback drops it): a job never sees data that did not land.
* Jobs carry ids, never ORM objects, plus the merchant id when they touch a store.
  The worker (``run_job``) opens an app context, binds that merchant, runs the
  function, commits once; a tenant job that arrives without a merchant is rejected.
"""

from mall.jobs.core import (
    TenantJobRejected,
    enqueue,
    get_queue,
    platform_job,
    run_job,
    tenant_job,
)

__all__ = ["TenantJobRejected", "enqueue", "get_queue", "platform_job", "run_job", "tenant_job"]
