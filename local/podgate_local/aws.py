"""Local AWS: a moto server, the template's tables and secrets on it, and the secrets extension.

Tables and secrets come from their definitions in template.yaml (through load_stack), so the
local schema cannot drift from the deployed one. Functions reach DynamoDB through
AWS_ENDPOINT_URL and read secrets only through `SecretsExtensionEmulator`, the same HTTP
interface the AWS Parameters and Secrets Lambda Extension serves them in Lambda.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import socket
import string
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from podgate_local.template import Stack

# moto accepts any credentials; fixed dummy ones keep a developer's real keys out of every call.
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
RUNPOD_KEY_PARAMETER = "RunPodApiKeySecretName"
# Secrets Manager's GetRandomPassword punctuation set, which CloudFormation uses.
_PUNCTUATION = string.punctuation


class MotoServer:
    """moto's server mode in a child process: a local AWS endpoint for DynamoDB and Secrets
    Manager. A process, not moto's in-process thread, because every moto in one process shares
    one state, and `mock_aws` in a unit test wipes it on exit: a local stack living beside
    unit tests in one pytest run would lose its tables."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> MotoServer:
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # it logs every request; the functions' logs matter here
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {self._proc.returncode}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"moto server did not listen on {self.url} within {timeout} s")

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_moto(host: str = "127.0.0.1", port: int = 0) -> tuple[MotoServer, str]:
    """A moto server: (server, endpoint URL). Stop it with server.stop()."""
    server = MotoServer(host, port).start()
    return server, server.url


def client(service: str, endpoint_url: str, region: str) -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(retries={"max_attempts": 2, "mode": "standard"}),
        **DUMMY_CREDENTIALS,
    )


@dataclass
class CreatedResources:
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    secrets: dict[str, str] = field(default_factory=dict)  # logical id (or parameter) -> secret name


def create_resources(
    stack: Stack, endpoint_url: str, region: str, *, runpod_api_key: str | None = None
) -> CreatedResources:
    """Create the template's tables and secrets, plus the RunPod key secret the template only
    names (parameter RunPodApiKeySecretName) when `runpod_api_key` is given.

    Idempotent: existing tables are kept, generated secrets keep their value (a second run must
    not rotate the signing key under live tokens), and the RunPod key is set to the given one.
    """
    created = CreatedResources()
    ddb = client("dynamodb", endpoint_url, region)
    for logical, props in stack.tables.items():
        _create_table(ddb, props)
        created.tables[logical] = props["TableName"]
    sm = client("secretsmanager", endpoint_url, region)
    for logical, props in stack.secrets.items():
        _create_secret(sm, props)
        created.secrets[logical] = props["Name"]
    if runpod_api_key is not None:
        name = stack.parameters[RUNPOD_KEY_PARAMETER]
        _put_secret(sm, name, runpod_api_key, "RunPod API key (local stack)")
        created.secrets[RUNPOD_KEY_PARAMETER] = name
    return created


def _create_table(ddb: Any, props: Mapping[str, Any]) -> None:
    provisioned = props.get("BillingMode", "PROVISIONED") == "PROVISIONED"

    def throughput(p: Mapping[str, Any]) -> dict[str, Any]:
        t = p.get("ProvisionedThroughput") or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        return {"ProvisionedThroughput": {k: int(v) for k, v in t.items()}} if provisioned else {}

    kwargs: dict[str, Any] = {
        "TableName": props["TableName"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": "PROVISIONED" if provisioned else "PAY_PER_REQUEST",
        **throughput(props),
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = [
            {k: gsi[k] for k in ("IndexName", "KeySchema", "Projection")} | throughput(gsi)
            for gsi in props["GlobalSecondaryIndexes"]
        ]
    if props.get("LocalSecondaryIndexes"):
        kwargs["LocalSecondaryIndexes"] = [
            {k: lsi[k] for k in ("IndexName", "KeySchema", "Projection")} for lsi in props["LocalSecondaryIndexes"]
        ]
    if props.get("StreamSpecification"):  # CloudFormation implies StreamEnabled; the API does not
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    # PointInTimeRecoverySpecification and SSESpecification change nothing a local run can see.
    try:
        ddb.create_table(**kwargs)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    ttl = props.get("TimeToLiveSpecification")
    if ttl and _truthy(ttl.get("Enabled", True)):
        current = ddb.describe_time_to_live(TableName=props["TableName"])["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            ddb.update_time_to_live(
                TableName=props["TableName"],
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )


def _create_secret(sm: Any, props: Mapping[str, Any]) -> None:
    kwargs: dict[str, Any] = {"Name": props["Name"]}
    if props.get("Description"):
        kwargs["Description"] = props["Description"]
    if "SecretString" in props:
        kwargs["SecretString"] = str(props["SecretString"])
    elif "GenerateSecretString" in props:
        kwargs["SecretString"] = generate_secret_string(props["GenerateSecretString"])
    try:
        sm.create_secret(**kwargs)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceExistsException":
            raise


def _put_secret(sm: Any, name: str, value: str, description: str) -> None:
    try:
        sm.create_secret(Name=name, Description=description, SecretString=value)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceExistsException":
            raise
        try:
            current = sm.get_secret_value(SecretId=name).get("SecretString")
        except ClientError:
            current = None
        if current != value:
            sm.put_secret_value(SecretId=name, SecretString=value)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def generate_secret_string(spec: Mapping[str, Any]) -> str:
    """What CloudFormation stores for GenerateSecretString (GetRandomPassword's rules)."""
    length = int(spec.get("PasswordLength", 32))
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    pools = [
        chars
        for chars, skip in (
            (string.ascii_lowercase, spec.get("ExcludeLowercase")),
            (string.ascii_uppercase, spec.get("ExcludeUppercase")),
            (string.digits, spec.get("ExcludeNumbers")),
            (_PUNCTUATION, spec.get("ExcludePunctuation")),
            (" ", not _truthy(spec.get("IncludeSpace", False))),
        )
        if not _truthy(skip)
    ]
    pools = [p for p in ("".join(c for c in pool if c not in excluded) for pool in pools) if p]
    if not pools:
        raise ValueError("GenerateSecretString excludes every character")
    alphabet = "".join(pools)
    rng = secrets.SystemRandom()
    chars = []
    if _truthy(spec.get("RequireEachIncludedType", True)):
        if length < len(pools):
            raise ValueError("PasswordLength is shorter than the number of required character types")
        chars = [rng.choice(pool) for pool in pools]
    chars += [rng.choice(alphabet) for _ in range(length - len(chars))]
    rng.shuffle(chars)
    password = "".join(chars)
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if (template is None) != (key is None):
        raise ValueError("SecretStringTemplate and GenerateStringKey go together")
    if template is None:
        return password
    document = json.loads(template)
    document[key] = password
    return json.dumps(document, separators=(",", ":"))


# --------------------------------------------------------------------------------------------
# AWS Parameters and Secrets Lambda Extension
# --------------------------------------------------------------------------------------------


@dataclass
class _Cached:
    status: int
    body: bytes
    expires_at: float


class SecretsExtensionEmulator:
    """The extension's Secrets Manager interface on loopback.

    GET /secretsmanager/get?secretId=ID[&versionStage=S | &versionId=V] with the header
    X-Aws-Parameters-Secrets-Token set to the function's AWS_SESSION_TOKEN answers the
    GetSecretValue result as JSON, cached per request for `ttl_seconds` (0 disables the cache).
    AWS errors pass through with their status, uncached.
    """

    TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"  # noqa: S105 - a header's name

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        session_token: str,
        ttl_seconds: float = 300,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sm = client("secretsmanager", endpoint_url, region)
        self._token = session_token
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[tuple[str, str, str], _Cached] = {}
        self._lock = threading.Lock()
        self.host = host
        self.port = port
        self.fetches = 0  # GetSecretValue calls made, i.e. cache misses
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> SecretsExtensionEmulator:
        handler = type("BoundExtensionHandler", (_ExtensionHandler,), {"emulator": self})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(
            # stop() waits for up to one poll interval; the default 0.5 s adds up in test suites
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="secrets-extension",
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SecretsExtensionEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def invalidate(self) -> None:
        """Forget every cached secret, as if the TTL had run out."""
        with self._lock:
            self._cache.clear()

    def answer(self, path: str, headers: Mapping[str, str]) -> tuple[int, str, bytes]:
        """(status, content type, body) for one request."""
        parts = urlsplit(path)
        if parts.path.rstrip("/") != "/secretsmanager/get":
            return 404, "text/plain", b"not found: this emulator serves /secretsmanager/get only"
        token = headers.get(self.TOKEN_HEADER.lower(), "")
        if not token or not hmac.compare_digest(token.encode(), self._token.encode()):
            return 401, "text/plain", f"missing or invalid {self.TOKEN_HEADER} header".encode()
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        secret_id = query.get("secretId", "")
        if not secret_id:
            return 400, "text/plain", b"secretId is required"
        key = (secret_id, query.get("versionId", ""), query.get("versionStage", ""))
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit.expires_at > now:
            return hit.status, "application/json", hit.body
        status, ctype, body = self._fetch(*key)
        if status == 200 and self._ttl > 0:
            with self._lock:
                self._cache[key] = _Cached(status, body, now + self._ttl)
        return status, ctype, body

    def _fetch(self, secret_id: str, version_id: str, version_stage: str) -> tuple[int, str, bytes]:
        kwargs = {"SecretId": secret_id}
        if version_id:
            kwargs["VersionId"] = version_id
        if version_stage:
            kwargs["VersionStage"] = version_stage
        with self._lock:
            self.fetches += 1
        try:
            out = self._sm.get_secret_value(**kwargs)
        except ClientError as exc:
            # The extension passes the SDK's error text through. Secrets Manager (a JSON-protocol
            # API) answers every client fault with 400, where moto says 404 for a missing secret.
            err = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
            status = 400 if status < 500 else status
            code, message = err.get("Code", "Error"), err.get("Message", "")
            text = (
                "operation error Secrets Manager: GetSecretValue, "
                f"https response error StatusCode: {status}, {code}: {message}"
            )
            return status, "text/plain", text.encode()
        created = out.get("CreatedDate")
        body = {
            "ARN": out["ARN"],
            "Name": out["Name"],
            "VersionId": out["VersionId"],
            "SecretString": out.get("SecretString"),
            "SecretBinary": base64.b64encode(out["SecretBinary"]).decode() if out.get("SecretBinary") else None,
            "VersionStages": out.get("VersionStages", []),
            # The extension serialises times as RFC 3339 strings, not the API's epoch numbers.
            "CreatedDate": _rfc3339(created) if created else None,
            "ResultMetadata": {},
        }
        return 200, "application/json", json.dumps(body).encode()


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _ExtensionHandler(BaseHTTPRequestHandler):
    emulator: SecretsExtensionEmulator
    protocol_version = "HTTP/1.1"
    server_version = "podgate-local-secrets-extension"
    sys_version = ""
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, ctype, body = self.emulator.answer(self.path, headers)
        self.send_response_only(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass
