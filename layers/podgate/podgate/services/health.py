"""GET /health?deep=true: can the API reach RunPod and its tables right now?

Plain /health stays a constant answer. The deep check is unauthenticated, so its result is
cached per container for a few seconds: probing it in a loop cannot turn into load on RunPod
(whose rate limit we share with every pod operation) or DynamoDB.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from podgate import runtime
from podgate.errors import PodgateError

CACHE_SECONDS = 10.0
_cache: tuple[float, dict[str, Any]] | None = None


def _timed(check: Callable[[], object]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check()
    except PodgateError as exc:
        return {"ok": False, "error": exc.detail if exc.status != 500 else "unavailable"}
    except Exception:
        return {"ok": False, "error": "unavailable"}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def deep_check(clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    global _cache
    now = clock()
    if _cache and now - _cache[0] < CACHE_SECONDS:
        return _cache[1]
    checks = {
        "runpod": _timed(lambda: runtime.runpod().list_gpu_types()),
        "users_table": _timed(lambda: runtime.users().get("health-check-probe")),
        "pods_table": _timed(lambda: runtime.pod_records().get("health-check-probe")),
    }
    result = {
        "status": "ok" if all(c["ok"] for c in checks.values()) else "degraded",
        "source": "runpod_api",
        "checks": checks,
    }
    _cache = (now, result)
    return result
