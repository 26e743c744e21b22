"""Fixed-window counters in Redis for throttling (log-in, password reset, registration)."""

from __future__ import annotations

from mall.extensions import redis_store


def hit(key: str, limit: int, window: int) -> bool:
    """Count one attempt under ``key``; True while the count is within ``limit`` for this window."""
    pipe = redis_store.client.pipeline()
    pipe.set(key, 0, ex=window, nx=True)  # starts the window (works on Redis 6.2, the embedded one)
    pipe.incr(key)
    _, count = pipe.execute()
    return int(count) <= limit


def seconds_left(key: str) -> int:
    return max(int(redis_store.client.ttl(key)), 1)
