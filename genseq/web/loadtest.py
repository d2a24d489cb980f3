"""A bounded load test of a running `genseq serve` (standard library only):

    python -m genseq.web.loadtest --url http://127.0.0.1:8000 -n 50 --concurrency 50 \\
        --text "a forty character line of handwriting..." [--stream]

sends exactly n write requests, at most `concurrency` at a time, each with a timeout, and
prints the statuses, the errors other than the documented 503 (queue full / time cap),
and p50 / p95 of the latency (and, with --stream, of the time to the first stroke)."""

from __future__ import annotations

import argparse
import http.client
import json
import math
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

DOCUMENTED = {503, 429}  # refusals the API documents (busy / time cap)


@dataclass
class Result:
    status: int  # HTTP status; for a stream, the error event's status if it ended in one
    seconds: float  # until the whole page arrived (or the failure)
    first: float | None  # until the first points event (streams) / the page (/api/write)
    detail: str = ""


def one(url: str, body: dict, stream: bool, timeout: float) -> Result:
    u = urlsplit(url)
    path = "/api/write/stream" if stream else "/api/write"
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200 or not stream:
            data = resp.read()
            dt = time.perf_counter() - t0
            detail = "" if resp.status == 200 else json.loads(data or b"{}").get("detail", "")
            return Result(resp.status, dt, dt if resp.status == 200 else None, str(detail))
        first, status, detail = None, 0, "the stream ended without done"
        for raw in resp:
            e = json.loads(raw)
            if e["event"] == "points" and first is None:
                first = time.perf_counter() - t0
            elif e["event"] == "done":
                status, detail = 200, ""
            elif e["event"] == "error":
                status, detail = e["status"], e["detail"]
        return Result(status, time.perf_counter() - t0, first, detail)
    except (OSError, http.client.HTTPException, json.JSONDecodeError) as e:
        return Result(0, time.perf_counter() - t0, None, f"{e.__class__.__name__}: {e}")
    finally:
        conn.close()


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of the values."""
    v = sorted(values)
    return v[max(0, math.ceil(q / 100 * len(v)) - 1)]


def report(results: list[Result], wall: float) -> dict:
    ok = [r for r in results if r.status == 200]
    statuses = Counter(r.status for r in results)
    errors = [r for r in results if r.status != 200 and r.status not in DOCUMENTED]
    out: dict = {
        "requests": len(results),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": len(errors),
        "wall_s": round(wall, 2),
    }
    if ok:
        lat = [r.seconds for r in ok]
        out |= {"p50_s": round(pct(lat, 50), 3), "p95_s": round(pct(lat, 95), 3)}
        out |= {"mean_s": round(statistics.fmean(lat), 3), "max_s": round(max(lat), 3)}
        firsts = [r.first for r in ok if r.first is not None]
        if firsts:
            out |= {
                "first_p50_s": round(pct(firsts, 50), 3),
                "first_p95_s": round(pct(firsts, 95), 3),
            }
    details = Counter(r.detail for r in results if r.detail)
    out["details"] = dict(details.most_common(5))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("-n", type=int, default=50, help="requests in all")
    p.add_argument("--concurrency", type=int, default=50, help="requests at a time")
    p.add_argument("--text", default="The quick brown fox jumps over a lazy dog")
    p.add_argument("--bias", type=float, default=0.75)
    p.add_argument("--style", type=int, default=None)
    p.add_argument("--stream", action="store_true", help="use /api/write/stream")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per request")
    a = p.parse_args(argv)
    if a.n < 1 or a.concurrency < 1:
        print("loadtest: -n and --concurrency must be >= 1", file=sys.stderr)
        return 2
    bodies = [{"text": a.text, "bias": a.bias, "seed": i, "style": a.style} for i in range(a.n)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(min(a.n, a.concurrency)) as pool:
        results = list(pool.map(lambda b: one(a.url, b, a.stream, a.timeout), bodies))
    print(json.dumps(report(results, time.perf_counter() - t0), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
