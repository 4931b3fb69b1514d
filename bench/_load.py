"""HTTP clients for bench/bench.py's local-stack figures, in their own process.

    python -I bench/_load.py load  URL PATH CLIENTS WARMUP_S DURATION_S TOKEN...
    python -I bench/_load.py probe URL PATH TOKEN...

Standard library only (http.client, one keep-alive connection per client), and a process of
its own so that the clients do not share a GIL with the stack they measure.

`load`: CLIENTS threads, client i sending `GET PATH` with TOKEN[i % len] back to back (each
waits for its answer: at most CLIENTS requests in flight), WARMUP_S unmeasured, then
DURATION_S measured. `probe`: for each (fresh) token, one request the authorizer has never
seen and one right after it, which its cache answers (after a GET /health on the same
connection, so neither pays for connecting).

Prints one JSON document.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit


class Client:
    def __init__(self, url: str, path: str, token: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.path = path
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def get(self) -> tuple[int, float]:
        """(status, seconds); status 0 when the connection failed."""
        started = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=35)
            self.conn.request("GET", self.path, headers=self.headers)
            resp = self.conn.getresponse()
            resp.read()
            status = resp.status
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException):
            self.close()
            status = 0
        return status, time.perf_counter() - started

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def load(url: str, path: str, clients: int, warmup: float, duration: float, tokens: list[str]) -> dict:
    start = time.monotonic() + 0.2
    measure_from = start + warmup
    stop_at = measure_from + duration
    samples: list[list[float]] = [[] for _ in range(clients)]
    statuses: list[dict[str, int]] = [{} for _ in range(clients)]
    warm_counts = [0] * clients

    def run(i: int) -> None:
        client = Client(url, path, tokens[i % len(tokens)])
        while time.monotonic() < start:
            time.sleep(0.001)
        while True:
            began = time.monotonic()
            if began >= stop_at:
                break
            status, seconds = client.get()
            if began < measure_from:
                warm_counts[i] += 1
                continue
            samples[i].append(seconds * 1000)
            statuses[i][str(status)] = statuses[i].get(str(status), 0) + 1
        client.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    merged: dict[str, int] = {}
    for s in statuses:
        for k, v in s.items():
            merged[k] = merged.get(k, 0) + v
    return {
        "latencies_ms": [x for s in samples for x in s],
        "statuses": merged,
        "duration_s": duration,
        "warmup_requests": sum(warm_counts),
    }


def probe(url: str, path: str, tokens: list[str]) -> dict:
    """Per fresh token: GET /health first (no authorizer; it opens the connection), then PATH
    twice: the first is authorized by invoking the authorizer, the second from its cache."""
    first, second, statuses = [], [], []
    for token in tokens:
        client = Client(url, "/health", token)
        client.get()
        client.path = path
        s1, t1 = client.get()
        s2, t2 = client.get()
        client.close()
        first.append(t1 * 1000)
        second.append(t2 * 1000)
        statuses.append([s1, s2])
    return {"uncached_ms": first, "cached_ms": second, "statuses": statuses}


def main(argv: list[str]) -> None:
    mode, url, path = argv[1], argv[2], argv[3]
    if mode == "load":
        clients, warmup, duration = int(argv[4]), float(argv[5]), float(argv[6])
        out = load(url, path, clients, warmup, duration, argv[7:])
    elif mode == "probe":
        out = probe(url, path, argv[4:])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    sys.stdout.write(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
