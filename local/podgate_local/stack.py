"""The whole local stack in one object: what `make dev` serves and what integration tests use.

    with LocalStack(port=0) as stack:
        requests.post(f"{stack.url}/auth", json={"username": stack.admin_username, ...})

Starts, on loopback and free ports unless told otherwise: a moto server with the template's
tables and secrets, the RunPod emulator (unless a real RunPod account is configured), the
secrets-extension emulator, and the local API Gateway. Functions get exactly their template
environment plus `.env`, the endpoint overrides.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import sys
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from podgate_local.aws import DUMMY_CREDENTIALS, SecretsExtensionEmulator, create_resources, start_moto
from podgate_local.docs import serve_docs
from podgate_local.gateway import LocalGateway
from podgate_local.template import TEMPLATE_PATH, Stack, load_stack
from podgate_local.worker import Invocation, LogSink, invoke_function

DEFAULT_ADMIN_USERNAME = "admin"
ENV_FILE = Path(".podgate") / "local.env"


class LocalStack:
    """Everything `template.yaml` describes, running locally. A context manager.

    `port` is the gateway's (0 picks a free one; None runs no gateway, for one-off invokes).
    `environ` is where RUNPOD_API_KEY, RUNPOD_API_URL and PODGATE_ADMIN_USERNAME/PASSWORD are
    read (default: os.environ); `admin_password` replaces the generated default password.
    `write_env_file` writes .podgate/local.env beside the template for the admin command and
    `python -m podgate_local invoke`, and removes it on stop.
    """

    def __init__(
        self,
        *,
        template: Path = TEMPLATE_PATH,
        host: str = "127.0.0.1",
        port: int | None = 0,
        region: str = "us-east-1",
        stack_name: str = "podgate-local",
        parameter_overrides: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        admin_password: str | None = None,
        write_env_file: bool = False,
        log_sink: LogSink | None = None,
        access_log: LogSink | None = None,
        env_vars: Mapping[str, Mapping[str, str]] | None = None,
        max_concurrency_per_function: int = 4,
        max_log_lines: int = 20_000,
    ) -> None:
        self.template = Path(template)
        self.host = host
        self.region = region
        self._port = port
        self._environ = os.environ if environ is None else environ
        self._default_admin_password = admin_password
        self._write_env_file = write_env_file
        self._extra_sink = log_sink
        self._access_log = access_log
        self._env_vars = env_vars
        self._max_concurrency = max_concurrency_per_function
        self.stack: Stack = load_stack(
            self.template, {"AWS::Region": region, **(parameter_overrides or {})}, stack_name
        )
        self._logs: deque[str] = deque(maxlen=max_log_lines)
        self._logs_lock = threading.Lock()

        self.aws_endpoint = ""
        self.runpod: Any = None  # RunPodEmulator, or None against a real RunPod account
        self.runpod_api_url: str | None = None
        self.extension: SecretsExtensionEmulator | None = None
        self.gateway: LocalGateway | None = None
        self.tables: dict[str, str] = {}
        self.secrets: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self.admin_username = ""
        self.admin_password = ""
        self.admin_password_generated = False
        self.env_file: Path | None = None
        self._moto: Any = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._moto, self.aws_endpoint = start_moto(self.host)
        runpod_key = self._start_runpod()
        created = create_resources(self.stack, self.aws_endpoint, self.region, runpod_api_key=runpod_key)
        self.tables, self.secrets = created.tables, created.secrets
        session_token = secrets.token_urlsafe(32)
        self.extension = SecretsExtensionEmulator(
            self.aws_endpoint,
            self.region,
            session_token,
            ttl_seconds=float(self.stack.parameters.get("SecretsCacheTtl", 300)),
            host=self.host,
        ).start()
        self.env = {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
            # In Lambda the extension authenticates the function by its session token.
            "AWS_SESSION_TOKEN": session_token,
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(self.extension.port),
        }
        if self.runpod_api_url:
            self.env["RUNPOD_API_URL"] = self.runpod_api_url
        self._seed_admin()
        if self._port is not None:
            self.gateway = LocalGateway(
                self.stack,
                env=self.env,
                env_vars=self._env_vars,
                host=self.host,
                port=self._port,
                log_sink=self._sink,
                max_concurrency_per_function=self._max_concurrency,
                access_log=self._access_log,
            ).start()
            serve_docs(self.gateway)  # /docs: the OpenAPI document in Swagger UI (podgate_local/docs.py)
        if self._write_env_file:
            self.env_file = self._write_env()

    def _start_runpod(self) -> str:
        """The RunPod API key the functions will use; starts the emulator unless API.md's rule
        for a real account holds (RUNPOD_API_KEY set, RUNPOD_API_URL unset)."""
        real_key = self._environ.get("RUNPOD_API_KEY", "")
        if real_key and not self._environ.get("RUNPOD_API_URL"):
            return real_key  # the template's RunPodApiUrl (the real API) stays in force
        from podgate_local.runpod_emulator import RunPodEmulator  # only this mode needs it

        key = f"rpa_local_{secrets.token_hex(16)}"
        self.runpod = RunPodEmulator(api_key=key, host=self.host).start()
        self.runpod_api_url = self.runpod.url
        return key

    def _seed_admin(self) -> None:
        self.admin_username = self._environ.get("PODGATE_ADMIN_USERNAME") or DEFAULT_ADMIN_USERNAME
        password = self._environ.get("PODGATE_ADMIN_PASSWORD") or self._default_admin_password
        self.admin_password_generated = not password
        self.admin_password = password or secrets.token_urlsafe(18)
        users_table = self.tables["UsersTable"]
        if importlib.util.find_spec("podgate") is None:
            # Started without the Makefile's PYTHONPATH: this process (never the functions,
            # which get their layers in worker.py) may import the template's own layer.
            sys.path.append(str(next(iter(self.stack.functions.values())).layers[0]))
        with self.aws_environment():
            from podgate import admin

            admin.ensure_user(users_table, self.admin_username, self.admin_password, role="admin")

    @contextlib.contextmanager
    def aws_environment(self) -> Iterator[None]:
        """Point this process's podgate code (admin command, repositories) at this stack's AWS
        endpoint: they read endpoint, region and credentials from os.environ, as the functions
        do. Lends them for the duration and puts the caller's back. podgate caches its DynamoDB
        client per process, and a process may host several stacks over its life (tests), so the
        cache is cleared on the way in and out."""
        from podgate.repositories import dynamo

        keys = (
            "AWS_ENDPOINT_URL",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        )
        saved = {k: os.environ.get(k) for k in keys}
        os.environ.update({k: self.env[k] for k in keys})
        dynamo.dynamodb_client.cache_clear()
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            dynamo.dynamodb_client.cache_clear()

    def _write_env(self) -> Path:
        path = self.template.parent / ENV_FILE
        path.parent.mkdir(exist_ok=True)
        values = {
            "PODGATE_LOCAL_PID": str(os.getpid()),
            "PODGATE_API_URL": self.url if self.gateway else "",
            **self.env,
        }
        # The names the functions know the resources by (USERS_TABLE, PODS_TABLE, JWT_SECRET_ID,
        # RUNPOD_SECRET_ID), taken from the template rather than listed here.
        resources = set(self.tables.values()) | set(self.secrets.values())
        for fn in self.stack.functions.values():
            for key, value in fn.environment.items():
                if value in resources:
                    values.setdefault(key, value)
        lines = ["# Written by `python -m podgate_local dev`; removed when it stops. Do not commit."]
        lines += [f"{k}={v}" for k, v in values.items()]
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.chmod(0o600)
        tmp.replace(path)
        return path

    def stop(self) -> None:
        if self.env_file is not None:
            with contextlib.suppress(OSError):
                if f"PODGATE_LOCAL_PID={os.getpid()}\n" in self.env_file.read_text():
                    self.env_file.unlink()
            self.env_file = None
        for part in (self.gateway, self.extension, self.runpod):
            if part is not None:
                part.stop()
        self.gateway = self.extension = self.runpod = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- use -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API at the root, like `sam local start-api`; `stage_url` has the stage prefix."""
        if self.gateway is None:
            raise RuntimeError("this stack runs no gateway (port=None)")
        return self.gateway.url

    @property
    def stage_url(self) -> str:
        return f"{self.url}/{self.stack.stage}"

    @property
    def logs(self) -> list[str]:
        """Function and gateway log lines so far, each "[FunctionLogicalId] line"."""
        with self._logs_lock:
            return list(self._logs)

    def clear_logs(self) -> None:
        with self._logs_lock:
            self._logs.clear()

    def _sink(self, line: str) -> None:
        with self._logs_lock:
            self._logs.append(line)
        if self._extra_sink is not None:
            self._extra_sink(line)

    def invoke(self, function_id: str, event: Any) -> Invocation:
        """One invocation in a fresh container against this stack, like `sam local invoke`."""
        return invoke_function(self.stack, function_id, event, self.env, env_vars=self._env_vars, log_sink=self._sink)
