"""Helpers shared by the test tiers: event fixtures, function modules, a Lambda context."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
FUNCTIONS = ROOT / "functions"


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of events/<name>, so a test may change it freely."""
    return copy.deepcopy(json.loads((EVENTS / name).read_text()))


def load_function(name: str) -> ModuleType:
    """functions/<name>/app.py as a module of its own: every function's module is called `app`
    in Lambda, so the tests give each a unique name instead."""
    module_name = f"podgate_fn_{name}"
    spec = importlib.util.spec_from_file_location(module_name, FUNCTIONS / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


class LambdaContext:
    """What the Lambda runtime passes as `context`, with a fixed remaining time."""

    def __init__(self, function_name: str = "test-function", remaining_ms: int = 15_000) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/12/03/[$LATEST]test"
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms
