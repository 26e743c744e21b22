#!/usr/bin/env python
"""Catalog benchmark: product and category pages and search against gunicorn, beside a bare Flask app.

Run from a clone with the package and gunicorn installed (``pip install -e '.[prod]'``) and Debian's
``wrk``::

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        python bench/catalog.py                      # 1,000 stores, 200,000 SKUs
    python bench/catalog.py --stores 50 --skus 5000  # a quick run

Steps:

1. a dedicated database ``mall_bench_catalog`` (kept between runs: ``--fresh`` rebuilds it),
   ``mall db upgrade``, then ``mall catalog generate --stores N --skus M`` (resumes if it stopped);
2. three gunicorn servers with the same settings (``--workers``, sync workers): the bare Flask
   app of ``bench/hello.py``, the mall, and the mall with its page cache switched off
   (``MALL_PAGE_CACHE_SECONDS=0``);
3. ``wrk`` (``--threads``, ``--connections``, ``--duration``) against: hello ``/``; product pages
   and category pages, uncached (a rotating list of many URLs on the cache-off server) and cached
   (a short list of URLs, warmed first, on the cached server, as anonymous visitors get them).
   Uncached product pages run twice: first with empty fragment caches (every store card,
   breadcrumb and related list rendered once: a cold start, printed for reference), then again
   (the steady state, which the target is about);
4. search latency: ``--queries`` searches of one or two words taken from product titles and
   categories, one after another over a keep-alive connection to the mall: p50 / p95 / max.

Targets (from the catalog issue): search p95 < 50 ms; uncached product page >= 8 % of hello's
requests/s; cached >= 40 %. Exit status 0 only when all are met.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
from sqlalchemy import make_url

from mall.embedded import admin_params, create_database

ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = "mall_bench_catalog"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/11"
PAGE_RUNS = ("product_uncached_cold", "product_uncached", "product_cached", "category_uncached", "category_cached")
TARGETS = {"search_p95_ms": 50.0, "uncached_product_ratio": 0.08, "cached_product_ratio": 0.40}

LUA = """
local urls = {}
for line in io.lines("%s") do urls[#urls + 1] = line end
local i = math.random(#urls)
request = function()
  i = i %% #urls + 1
  return wrk.format("GET", urls[i])
end
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(cmd: list[str], env: dict) -> None:
    log("+ " + " ".join(cmd))
    subprocess.run(cmd, env=env, cwd=ROOT, check=True)


def venv_bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


def prepare(args, env: dict) -> None:
    run([venv_bin("mall"), "db", "upgrade"], env)
    run([venv_bin("mall"), "catalog", "generate", "--stores", str(args.stores), "--skus", str(args.skus)], env)


def db_connect(url: str):
    return psycopg.connect(**{**admin_params(url), "dbname": make_url(url).database}, autocommit=True)


def sample_urls(url: str, rng: random.Random) -> dict[str, list[str]]:
    with db_connect(url) as conn:
        conn.execute("ANALYZE")
        products = conn.execute(
            "SELECT id, slug FROM public_products WHERE is_visible ORDER BY random() LIMIT 20000"
        ).fetchall()
        categories = conn.execute(
            "SELECT DISTINCT c.slug FROM categories c JOIN public_products p ON p.category_path LIKE c.path || '%%' "
            "WHERE c.is_enabled"
        ).fetchall()
        titles = [row[0] for row in conn.execute("SELECT title FROM public_products ORDER BY random() LIMIT 2000")]
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM merchants), (SELECT count(*) FROM public_products)"
        ).fetchone()
    from mall.catalog.text import words as segment

    queries = []
    for _ in range(2000):
        title_words = segment(rng.choice(titles), for_search=False)
        title_words = [w for w in title_words if len(w) >= 2 and not w.isdigit()]
        if title_words:
            queries.append(" ".join(rng.sample(title_words, k=min(len(title_words), rng.choice((1, 2))))))
    return {
        "products": [f"/p/{pid}-{slug}" for pid, slug in products],
        "categories": [f"/c/{slug}" for (slug,) in categories],
        "queries": queries,
        "stores": [str(counts[0])],
        "public_products": [str(counts[1])],
    }


class Server:
    def __init__(self, name: str, app: str, port: int, env: dict, workers: int):
        self.name, self.port = name, port
        self.proc = subprocess.Popen(
            [
                venv_bin("gunicorn"), "-w", str(workers), "-k", "sync", "-b", f"127.0.0.1:{port}",
                "--log-level", "warning", "--backlog", "2048", app,
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/")
                conn.getresponse().read()
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{name} did not start on port {port}")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


def wrk(port: int, urls: list[str], args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "urls.txt"
        listing.write_text("\n".join(urls) + "\n")
        script = Path(tmp) / "rotate.lua"
        script.write_text(LUA % listing)
        out = subprocess.run(
            [
                "wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s",
                "--latency", "-s", str(script), f"http://127.0.0.1:{port}",
            ],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    return {"rps": rps, "non2xx": int(non2xx.group(1)) if non2xx else 0, "p50": p50.group(0) if p50 else "?"}


def warm(port: int, urls: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for url in urls:
        conn.request("GET", url)
        conn.getresponse().read()


def search_latency(port: int, queries: list[str]) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times, statuses = [], {}
    for q in queries:
        t0 = time.perf_counter()
        conn.request("GET", "/search?q=" + quote(q))
        response = conn.getresponse()
        response.read()
        times.append((time.perf_counter() - t0) * 1000)
        statuses[response.status] = statuses.get(response.status, 0) + 1
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[int(len(times) * 0.95) - 1],
        "max": times[-1],
        "statuses": statuses,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--skus", type=int, default=200_000)
    parser.add_argument("--fresh", action="store_true", help="Drop and rebuild the benchmark database.")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        log("wrk is not installed (Debian: apt-get install wrk)")
        return 2
    rng = random.Random(1)
    server = os.environ.get("DATABASE_URL", DEFAULT_SERVER)
    url = create_database(server, BENCH_DB, replace=args.fresh)
    redis_url = os.environ.get("REDIS_URL_BENCH", DEFAULT_REDIS)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-secret",
        "MALL_EMBEDDED_WORKER": "0",
        "MALL_DEBUG": "0",
        "FLASK_DEBUG": "0",
    }
    prepare(args, env)
    sample = sample_urls(url, rng)
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    results: dict[str, dict] = {}
    servers: list[Server] = []
    try:
        hello = Server("hello", "bench.hello:app", 8101, env, args.workers)
        servers.append(hello)
        results["hello"] = wrk(8101, ["/"], args)
        hello.stop()
        servers.remove(hello)

        nocache = Server("mall (cache off)", "wsgi:app", 8102, {**env, "MALL_PAGE_CACHE_SECONDS": "0"}, args.workers)
        servers.append(nocache)
        # The first pass starts with empty fragment caches (store cards, breadcrumbs, related
        # products: shared by many pages); the second is the steady state the target is about.
        results["product_uncached_cold"] = wrk(8102, sample["products"], args)
        results["product_uncached"] = wrk(8102, sample["products"], args)
        results["category_uncached"] = wrk(8102, sample["categories"], args)
        results["search"] = search_latency(8102, sample["queries"][: args.queries])
        nocache.stop()
        servers.remove(nocache)

        cached = Server("mall", "wsgi:app", 8103, env, args.workers)
        servers.append(cached)
        hot_products = sample["products"][:200]
        hot_categories = sample["categories"][:50]
        warm(8103, hot_products + hot_categories)
        results["product_cached"] = wrk(8103, hot_products, args)
        results["category_cached"] = wrk(8103, hot_categories, args)
    finally:
        for s in servers:
            s.stop()

    hello_rps = results["hello"]["rps"]
    ratios = {key: results[key]["rps"] / hello_rps for key in PAGE_RUNS}
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"data: {sample['stores'][0]} stores, {sample['public_products'][0]} public products, "
        f"{args.skus} SKUs asked; gunicorn -w {args.workers} sync; wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s"
    )
    print(f"hello:              {hello_rps:10.1f} req/s  (p50 {results['hello']['p50']})")
    for key in PAGE_RUNS:
        r = results[key]
        print(
            f"{key:19s} {r['rps']:10.1f} req/s  = {ratios[key] * 100:5.1f} % of hello  "
            f"(p50 {r['p50']}, non-2xx {r['non2xx']})"
        )
    s = results["search"]
    print(
        f"search ({len(sample['queries'][: args.queries])} queries, sequential): p50 {s['p50']:.1f} ms, "
        f"p95 {s['p95']:.1f} ms, max {s['max']:.1f} ms, statuses {s['statuses']}"
    )
    met = {
        "search p95 < 50 ms": s["p95"] < TARGETS["search_p95_ms"],
        "uncached product >= 8 %": ratios["product_uncached"] >= TARGETS["uncached_product_ratio"],
        "cached product >= 40 %": ratios["product_cached"] >= TARGETS["cached_product_ratio"],
    }
    for name, ok in met.items():
        print(f"target {name}: {'met' if ok else 'NOT met'}")
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
