"""Reads template.yaml the way the local stack needs it: routes, functions, tables and secrets.

template.yaml is the single source of truth; nothing in the local stack keeps a second list of
routes or tables. Intrinsic functions are resolved against local stand-ins (parameter values,
physical names chosen here), which is all the local stack needs from CloudFormation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns short-form intrinsics (!Ref, !Sub, ...) into their long form."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_raw(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - _CfnLoader derives from SafeLoader


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway resource path, e.g. /pods/{pod_id}
    function: str  # logical id
    authorizer: str | None  # authorizer name, None for Authorizer: NONE

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = []
        for seg in self.path.strip("/").split("/"):
            if seg.startswith("{") and seg.endswith("+}"):
                parts.append(f"(?P<{seg[1:-2]}>.+)")
            elif seg.startswith("{") and seg.endswith("}"):
                parts.append(f"(?P<{seg[1:-1]}>[^/]+)")
            else:
                parts.append(re.escape(seg))
        return re.compile("^/" + "/".join(parts) + "$")


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_uri: Path
    handler: str
    timeout: int
    memory_mb: int
    environment: dict[str, str]
    name: str = ""  # physical FunctionName (AWS_LAMBDA_FUNCTION_NAME); the logical id when empty
    runtime: str = "python3.13"
    # Local directories of the template's own layers, in the order Lambda stacks them under
    # /opt. Layers given only by ARN (the secrets extension) have no local code and are omitted.
    layers: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Authorizer:
    name: str
    function: str
    header: str
    validation_expression: str | None
    ttl_seconds: int


@dataclass(frozen=True)
class Cors:
    """SAM's `Cors` on the Api: the OPTIONS method (a MOCK integration) SAM adds to every path.

    Values are kept as the template gives them, i.e. API Gateway header mapping expressions:
    a quoted literal ("'*'") or a request reference (method.request.header.Origin).
    `authorizer` is the API's DefaultAuthorizer when `Auth.AddDefaultAuthorizerToCorsPreflight`
    is true (SAM's default), else None: whether the preflight itself must be authorized.
    """

    allow_origin: str
    allow_headers: str | None = None
    allow_methods: str | None = None  # None: SAM lists the path's own methods (and OPTIONS)
    max_age: str | None = None
    allow_credentials: bool = False
    authorizer: str | None = None


@dataclass(frozen=True)
class MethodSetting:
    """One entry of the Api's `MethodSettings` (the stage's per-method settings), throttling part.

    `resource_path` is as CloudFormation spells it: "/*" (with http_method "*") for every
    method, else the path with each "/" after the first written "~1" ("/~1pods~1{pod_id}").
    A limit left out is None (API Gateway then falls back to the account-level limit).
    """

    resource_path: str
    http_method: str
    throttling_rate_limit: float | None = None
    throttling_burst_limit: int | None = None

    @property
    def path(self) -> str:
        """The resource path decoded ("/pods/{pod_id}"), or "/*"."""
        if self.resource_path == "/*":
            return self.resource_path
        return self.resource_path[1:].replace("~1", "/") or "/"

    def applies_to(self, path: str, method: str) -> bool:
        if self.resource_path == "/*":
            return self.http_method == "*"
        return self.path == path and self.http_method.upper() in ("*", method.upper())


@dataclass
class Stack:
    """The template resolved for local use."""

    stage: str
    parameters: dict[str, str]
    functions: dict[str, Function]
    routes: list[Route]
    authorizers: dict[str, Authorizer]
    gateway_responses: dict[str, dict[str, Any]]
    tables: dict[str, dict[str, Any]]  # logical id -> resolved Properties (plus TableName)
    secrets: dict[str, dict[str, Any]]  # logical id -> resolved Properties (plus Name)
    physical_names: dict[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    api_name: str = ""
    binary_media_types: tuple[str, ...] = ()
    cors: Cors | None = None
    method_settings: tuple[MethodSetting, ...] = ()


class Resolver:
    """Resolves the intrinsics the template uses, with local physical names for resources."""

    def __init__(self, raw: dict[str, Any], parameters: dict[str, str], physical: dict[str, str]):
        self.raw = raw
        self.parameters = parameters
        self.physical = physical
        self.conditions = {name: self._condition(expr) for name, expr in (raw.get("Conditions") or {}).items()}

    def _condition(self, expr: Any) -> bool:
        if isinstance(expr, dict):
            if "Fn::Not" in expr:
                return not self._condition(expr["Fn::Not"][0])
            if "Fn::Equals" in expr:
                a, b = (self.resolve(x) for x in expr["Fn::Equals"])
                return str(a) == str(b)
            if "Fn::And" in expr:
                return all(self._condition(x) for x in expr["Fn::And"])
            if "Fn::Or" in expr:
                return any(self._condition(x) for x in expr["Fn::Or"])
            if "Condition" in expr:
                return self.conditions[expr["Condition"]]
        raise ValueError(f"unsupported condition {expr!r}")

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.parameters.get("AWS::Region", "us-east-1"),
            "AWS::AccountId": "000000000000",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.parameters.get("AWS::StackName", "podgate-local"),
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]
        raise KeyError(f"cannot resolve Ref {name}")

    def resolve(self, value: Any) -> Any:  # noqa: C901 - one branch per intrinsic
        if isinstance(value, list):
            out = [self.resolve(v) for v in value]
            return [v for v in out if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return _NO_VALUE if arg == "AWS::NoValue" else self._ref(arg)
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

                def sub(m: re.Match[str]) -> str:
                    name = m.group(1)
                    if name in extra:
                        return str(extra[name])
                    if "." in name:
                        return str(self.resolve({"Fn::GetAtt": name.split(".", 1)}))
                    return str(self._ref(name))

                return re.sub(r"\$\{([^}!]+)\}", sub, text)
            if key == "Fn::GetAtt":
                logical, attr = arg
                if attr == "Arn":
                    kind = self.raw["Resources"][logical]["Type"]
                    name = self.physical.get(logical, logical)
                    region = self._ref("AWS::Region")
                    if kind == "AWS::DynamoDB::Table":
                        return f"arn:aws:dynamodb:{region}:000000000000:table/{name}"
                    return f"arn:aws:lambda:{region}:000000000000:function:{name}"
                raise KeyError(f"unsupported GetAtt {logical}.{attr}")
            if key == "Fn::If":
                cond, yes, no = arg
                return self.resolve(yes if self.conditions[cond] else no)
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(x) for x in self.resolve(items))
        return {k: self.resolve(v) for k, v in value.items() if self.resolve(v) is not _NO_VALUE}


_NO_VALUE = object()


def _env_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_stack(
    path: Path = TEMPLATE_PATH,
    parameter_overrides: dict[str, str] | None = None,
    stack_name: str = "podgate-local",
) -> Stack:
    """Resolve template.yaml for the local stack.

    Physical names follow CloudFormation's spirit (stack name + logical id) so that two local
    stacks never share a table, and secrets keep the Name the template gives them.
    """
    raw = load_raw(path)
    params: dict[str, str] = {
        name: _env_str(spec.get("Default", "")) for name, spec in (raw.get("Parameters") or {}).items()
    }
    params.update(parameter_overrides or {})
    params["AWS::StackName"] = stack_name
    resources: dict[str, Any] = raw["Resources"]

    physical = _physical_names(resources, params, stack_name)
    resolver = Resolver(raw, params, physical)
    for logical, res in resources.items():
        if res["Type"] == "AWS::SecretsManager::Secret":
            name = resolver.resolve(res["Properties"].get("Name", f"{stack_name}/{logical}"))
            physical[logical] = name  # Ref of a secret is its ARN in AWS; the name works as SecretId too

    glob = resolver.resolve((raw.get("Globals") or {}).get("Function", {}))
    layer_dirs = {
        physical[logical]: _layer_dir(path.parent, res)
        for logical, res in resources.items()
        if res["Type"] == "AWS::Serverless::LayerVersion"
    }
    functions: dict[str, Function] = {}
    routes: list[Route] = []
    api_props: dict[str, Any] = {}
    tables: dict[str, dict[str, Any]] = {}
    secrets: dict[str, dict[str, Any]] = {}
    for logical, res in resources.items():
        kind = res["Type"]
        props = res.get("Properties") or {}
        if kind == "AWS::Serverless::Api":
            api_props = resolver.resolve(props)
        elif kind == "AWS::DynamoDB::Table":
            tables[logical] = {**resolver.resolve(props), "TableName": physical[logical]}
        elif kind == "AWS::SecretsManager::Secret":
            secrets[logical] = {**resolver.resolve(props), "Name": physical[logical]}
        elif kind == "AWS::Serverless::Function":
            p = resolver.resolve({k: v for k, v in props.items() if k != "Events"})
            functions[logical] = _function(logical, p, glob, path.parent, physical[logical], layer_dirs)
            for event in (props.get("Events") or {}).values():
                if event.get("Type") != "Api":
                    continue
                ep = event["Properties"]
                auth = (ep.get("Auth") or {}).get("Authorizer", "__default__")
                routes.append(Route(ep["Method"].upper(), ep["Path"], logical, auth))

    auth_cfg = api_props.get("Auth") or {}
    default_auth = auth_cfg.get("DefaultAuthorizer")
    resolved = {"NONE": None, "__default__": default_auth}
    routes = [Route(r.method, r.path, r.function, resolved.get(r.authorizer, r.authorizer)) for r in routes]
    authorizers: dict[str, Authorizer] = {}
    function_by_arn = {resolver.resolve({"Fn::GetAtt": [fid, "Arn"]}): fid for fid in functions}
    for name, spec in (auth_cfg.get("Authorizers") or {}).items():
        ident = spec.get("Identity") or {}
        authorizers[name] = Authorizer(
            name=name,
            function=function_by_arn[spec["FunctionArn"]],
            header=ident.get("Header", "Authorization"),
            validation_expression=ident.get("ValidationExpression"),
            ttl_seconds=int(ident.get("ReauthorizeEvery", 300)),
        )
    return Stack(
        stage=str(api_props.get("StageName", params.get("StageName", "dev"))),
        parameters=params,
        functions=functions,
        routes=routes,
        authorizers=authorizers,
        gateway_responses=api_props.get("GatewayResponses") or {},
        tables=tables,
        secrets=secrets,
        physical_names=physical,
        region=str(params.get("AWS::Region", "us-east-1")),
        api_name=str(api_props.get("Name", f"{stack_name}-api")),
        binary_media_types=tuple(
            # OpenAPI-style escaping: "image~1png" in the template means image/png.
            str(t).replace("~1", "/")
            for t in api_props.get("BinaryMediaTypes") or ()
        ),
        cors=_cors(api_props.get("Cors"), auth_cfg),
        method_settings=tuple(_method_setting(s) for s in api_props.get("MethodSettings") or ()),
    )


def _cors(spec: Any, auth_cfg: dict[str, Any]) -> Cors | None:
    """SAM's Cors property: a string is the AllowOrigin alone, a mapping has the five keys."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        spec = {"AllowOrigin": spec}
    if not spec.get("AllowOrigin"):
        raise ValueError("Cors needs AllowOrigin (SAM: 'Value for AllowedOrigins is required')")

    def text(key: str) -> str | None:
        value = spec.get(key)
        return None if value is None or value == "" else _env_str(value)

    add_to_preflight = auth_cfg.get("AddDefaultAuthorizerToCorsPreflight", True)
    return Cors(
        allow_origin=_env_str(spec["AllowOrigin"]),
        allow_headers=text("AllowHeaders"),
        allow_methods=text("AllowMethods"),
        max_age=None if spec.get("MaxAge") is None else _env_str(spec["MaxAge"]),  # 0 is a value
        allow_credentials=spec.get("AllowCredentials") is True,
        authorizer=auth_cfg.get("DefaultAuthorizer") if _truthy(add_to_preflight) else None,
    )


def _method_setting(spec: dict[str, Any]) -> MethodSetting:
    rate, burst = spec.get("ThrottlingRateLimit"), spec.get("ThrottlingBurstLimit")
    return MethodSetting(
        resource_path=str(spec.get("ResourcePath", "/*")),
        http_method=str(spec.get("HttpMethod", "*")),
        throttling_rate_limit=None if rate is None else float(rate),
        throttling_burst_limit=None if burst is None else int(float(burst)),
    )


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _physical_names(resources: dict[str, Any], params: dict[str, str], stack_name: str) -> dict[str, str]:
    physical: dict[str, str] = {}
    for logical, res in resources.items():
        kind = res["Type"]
        if kind in ("AWS::DynamoDB::Table", "AWS::Serverless::Function"):
            physical[logical] = f"{stack_name}-{logical}"
        elif kind == "AWS::Serverless::LayerVersion":
            region = params.get("AWS::Region", "us-east-1")
            physical[logical] = f"arn:aws:lambda:{region}:000000000000:layer:{stack_name}-{logical}:1"
        else:
            physical[logical] = logical
    return physical


def _function(
    logical: str,
    props: dict[str, Any],
    glob: dict[str, Any],
    template_dir: Path,
    physical_name: str,
    layer_dirs: dict[str, Path],
) -> Function:
    """One function from its resolved Properties and the resolved Globals."""
    env = {
        **(glob.get("Environment", {}).get("Variables", {})),
        **(props.get("Environment", {}).get("Variables", {})),
    }
    # SAM appends a function's own Layers to the Globals' ones.
    layer_refs = [*glob.get("Layers", []), *props.get("Layers", [])]
    return Function(
        logical_id=logical,
        code_uri=(template_dir / props["CodeUri"]).resolve(),
        handler=props.get("Handler", glob.get("Handler", "app.lambda_handler")),
        timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
        memory_mb=int(props.get("MemorySize", glob.get("MemorySize", 128))),
        environment={k: _env_str(v) for k, v in env.items()},
        name=str(props.get("FunctionName", physical_name)),
        runtime=str(props.get("Runtime", glob.get("Runtime", "python3.13"))),
        layers=tuple(layer_dirs[ref] for ref in layer_refs if ref in layer_dirs),
    )


def _layer_dir(template_dir: Path, resource: dict[str, Any]) -> Path:
    """Where a layer's importable code sits, i.e. what Lambda mounts as /opt/python.

    `sam build` with a BuildMethod copies ContentUri into python/ (so ContentUri itself is the
    import root); a layer without one must already contain the python/ folder Lambda expects.
    """
    content = (template_dir / resource["Properties"]["ContentUri"]).resolve()
    built = "BuildMethod" in (resource.get("Metadata") or {})
    return content if built or not (content / "python").is_dir() else content / "python"
