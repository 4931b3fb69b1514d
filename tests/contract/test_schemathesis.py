"""The API keeps its contract: schemathesis tests every operation of the committed OpenAPI
document against the local stack, authenticated as the admin, and every answer must be in it.

Checks: no 5xx (not_a_server_error), a documented status code (status_code_conformance), the
documented media type (content_type_conformance) and a body that matches the documented schema
(response_schema_conformance). Phases: the document's examples, coverage (boundary and invalid
values), fuzzing, and stateful sequences along its links (create a pod, then get, stop and
delete it). Examples per operation are bounded and the seed is fixed, so `make test` is
repeatable; PODGATE_FUZZ_EXAMPLES and PODGATE_FUZZ_SEED fuzz harder or differently.

schemathesis runs as its command line (`python -m schemathesis.cli run`, the documented
interface) in a scratch directory, so its caches never land in the work tree. What it sent and
received (its HAR report) joins the responses the secret audit inspects. The run shares the
session stack with the other tests, so it cleans up: the pods it created are deleted and the
RunPod emulator's rate-limit windows start afresh.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys

from podgate.openapi import DOCUMENT_PATH
from tests.localstack import RESPONSES

MAX_EXAMPLES = int(os.environ.get("PODGATE_FUZZ_EXAMPLES", "15"))
SEED = int(os.environ.get("PODGATE_FUZZ_SEED", "20261203"))
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance")
PHASES = ("examples", "coverage", "fuzzing", "stateful")
TIMEOUT_SECONDS = 300

# The token reaches schemathesis through the environment, never its command line.
CONFIG = """\
[cache]
enabled = false

[generation]
database = "none"

[auth.openapi.bearerAuth]
bearer = "${PODGATE_FUZZ_TOKEN}"
"""


def _operations(document: dict) -> list[tuple[str, re.Pattern[str]]]:
    """(label, pattern of its URL paths) for every operation of the document."""
    out = []
    for path, item in document["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        out += [(f"{method.upper()} {path}", pattern) for method in item]
    return out


def _summary(har: dict, document: dict) -> dict[str, collections.Counter[int]]:
    """Requests per documented operation and status (undeclared methods and paths left out)."""
    operations = _operations(document)
    seen: dict[str, collections.Counter[int]] = {label: collections.Counter() for label, _ in operations}
    for entry in har["log"]["entries"]:
        method = entry["request"]["method"]
        path = re.sub(r"^[a-z]+://[^/]+", "", entry["request"]["url"]).split("?")[0]
        for label, pattern in operations:
            if label.startswith(method + " ") and pattern.match(path):
                seen[label][entry["response"]["status"]] += 1
                break
    return seen


def test_every_answer_is_the_documented_one(stack, admin, tmp_path):
    document = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    before = {p["pod_id"] for p in admin.request("GET", "/pods").json()["items"]}
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    har = tmp_path / "run.har"
    command = [
        sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(config),
        "run", str(DOCUMENT_PATH),
        "--url", stack.url,
        "--checks", ",".join(CHECKS),
        "--phases", ",".join(PHASES),
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--workers", "1",
        "--request-timeout", "30",
        "--report", "har", "--report-har-path", str(har),
    ]  # fmt: skip
    env = {**os.environ, "PODGATE_FUZZ_TOKEN": admin.token}
    try:
        run = subprocess.run(  # noqa: S603 - our own interpreter, arguments built above
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
        )
    finally:
        # Leave the shared stack as the other tests expect it.
        created = [p["pod_id"] for p in admin.request("GET", "/pods").json()["items"] if p["pod_id"] not in before]
        for pod_id in created:
            admin.request("DELETE", f"/pods/{pod_id}")
        if stack.runpod is not None and hasattr(stack.runpod, "set_rate_limits"):
            stack.runpod.set_rate_limits(None)

    assert run.returncode == 0, f"schemathesis found answers the document does not allow:\n{run.stdout[-20000:]}"
    report = json.loads(har.read_text(encoding="utf-8"))
    for entry in report["log"]["entries"]:
        req, resp = entry["request"], entry["response"]
        headers = {h["name"]: h["value"] for h in resp.get("headers", [])}
        RESPONSES.append((req["method"], req["url"], resp["status"], headers, resp["content"].get("text") or ""))
    seen = _summary(report, document)
    print(
        f"\nschemathesis: {len(seen)} operations, {len(report['log']['entries'])} requests "
        f"(max {MAX_EXAMPLES} examples per operation and phase, seed {SEED}), {len(created)} pods created and "
        "deleted\n  " + "\n  ".join(f"{label}: {dict(sorted(c.items()))}" for label, c in seen.items())
    )
    # Every operation was exercised, and the protected ones got past the authorizer.
    assert all(seen.values()), {label for label, c in seen.items() if not c}
    for label, counts in seen.items():
        if label.endswith("/pods") or "{pod_id}" in label or label.endswith("/pods/stop"):
            assert set(counts) - {401}, f"{label}: only 401s, the admin token was not used"
