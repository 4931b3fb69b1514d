"""template.yaml as the local stack reads it: routes, environments, authorizer, tables, secrets."""

import re
import textwrap

import pytest

from podgate_local.template import ROOT, Cors, MethodSetting, load_stack

GLOBAL_ENV = {
    "POWERTOOLS_SERVICE_NAME": "podgate",
    "POWERTOOLS_METRICS_NAMESPACE": "Podgate",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "PODGATE_STAGE": "dev",
    "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "2773",
    "SECRETS_MANAGER_TTL": "300",
    "TOKEN_ISSUER": "podgate",
    "TOKEN_AUDIENCE": "podgate-api",
    "CORS_ALLOW_ORIGIN": "*",
}


@pytest.fixture(scope="module")
def stack():
    return load_stack()


def test_routes_are_exactly_the_templates_api_events(stack):
    routes = {(r.method, r.path, r.function, r.authorizer) for r in stack.routes}
    bearer = "BearerTokenAuthorizer"
    assert routes == {
        ("POST", "/auth", "AuthFunction", None),
        ("GET", "/health", "HealthFunction", None),
        ("GET", "/openapi.json", "OpenApiFunction", None),
        ("GET", "/pods", "ListPodsFunction", bearer),
        ("GET", "/pods/{pod_id}", "ListPodsFunction", bearer),
        ("POST", "/pods", "CreatePodFunction", bearer),
        ("POST", "/pods/stop", "StopPodFunction", bearer),
        ("POST", "/pods/{pod_id}/stop", "StopPodFunction", bearer),
        ("DELETE", "/pods", "DeletePodFunction", bearer),
        ("DELETE", "/pods/{pod_id}", "DeletePodFunction", bearer),
    }
    assert len(stack.routes) == len(routes)


def test_route_patterns_capture_one_segment_per_parameter(stack):
    by_path = {r.path: r for r in stack.routes}
    get_pod = by_path["/pods/{pod_id}"].pattern
    assert get_pod.match("/pods/abc123").groupdict() == {"pod_id": "abc123"}
    assert get_pod.match("/pods/abc123/stop") is None
    assert get_pod.match("/pods") is None
    assert by_path["/pods/{pod_id}/stop"].pattern.match("/pods/p1/stop").groupdict() == {"pod_id": "p1"}


def test_function_environment_is_globals_merged_with_its_own(stack):
    auth = stack.functions["AuthFunction"]
    assert auth.environment == {
        **GLOBAL_ENV,
        "USERS_TABLE": "podgate-local-UsersTable",
        "LOGIN_ATTEMPTS_TABLE": "podgate-local-LoginAttemptsTable",
        "LOGIN_FAILURE_LIMIT": "5",
        "LOGIN_FAILURE_WINDOW_SECONDS": "900",
        "JWT_SECRET_ID": "podgate-local/jwt-signing-key",
        "TOKEN_LIFETIME_SECONDS": "3600",
    }
    assert stack.functions["HealthFunction"].environment == {
        **GLOBAL_ENV,
        "USERS_TABLE": "podgate-local-UsersTable",
        "PODS_TABLE": "podgate-local-PodsTable",
        "RUNPOD_SECRET_ID": "podgate/runpod-api-key",
        "RUNPOD_API_URL": "https://api.runpod.io/v2",
    }
    assert stack.functions["ListPodsFunction"].environment == {
        **GLOBAL_ENV,
        "USERS_TABLE": "podgate-local-UsersTable",
        "PODS_TABLE": "podgate-local-PodsTable",
        "RUNPOD_SECRET_ID": "podgate/runpod-api-key",
        "RUNPOD_API_URL": "https://api.runpod.io/v2",
    }


def test_function_settings_fall_back_to_globals(stack):
    authorizer, health, create = (
        stack.functions[f] for f in ("AuthorizerFunction", "HealthFunction", "CreatePodFunction")
    )
    assert (authorizer.timeout, authorizer.memory_mb) == (5, 256)
    assert (health.timeout, health.memory_mb) == (15, 256)
    assert (create.timeout, create.memory_mb) == (15, 512)
    assert create.handler == "app.lambda_handler"
    assert create.runtime == "python3.13"
    assert create.code_uri == ROOT / "functions" / "create_pod"
    assert create.name == "podgate-local-CreatePodFunction"


def test_functions_get_the_templates_own_layer_but_not_arn_only_layers(stack):
    # The secrets extension is an ARN from another account; locally an emulator replaces it.
    for function in stack.functions.values():
        assert function.layers == (ROOT / "layers" / "podgate",)


def test_parameter_overrides_flow_into_stage_environment_and_authorizer():
    stack = load_stack(
        parameter_overrides={"StageName": "prod", "LogLevel": "DEBUG", "AuthorizerCacheTtl": "0"},
        stack_name="other",
    )
    assert stack.stage == "prod"
    env = stack.functions["AuthFunction"].environment
    assert (env["PODGATE_STAGE"], env["POWERTOOLS_LOG_LEVEL"]) == ("prod", "DEBUG")
    assert env["USERS_TABLE"] == "other-UsersTable"
    assert env["JWT_SECRET_ID"] == "other/jwt-signing-key"
    assert stack.authorizers["BearerTokenAuthorizer"].ttl_seconds == 0


def test_region_override_reaches_arns(stack):
    assert stack.region == "us-east-1"
    eu = load_stack(parameter_overrides={"AWS::Region": "eu-central-1"})
    assert eu.region == "eu-central-1"
    assert eu.physical_names["PodgateLayer"].startswith("arn:aws:lambda:eu-central-1:000000000000:layer:")
    # The authorizer is wired by !GetAtt AuthorizerFunction.Arn: both sides must agree on the region.
    assert eu.authorizers["BearerTokenAuthorizer"].function == "AuthorizerFunction"


def test_authorizer_is_the_templates_token_authorizer(stack):
    (auth,) = stack.authorizers.values()
    assert (auth.name, auth.function, auth.header, auth.ttl_seconds) == (
        "BearerTokenAuthorizer",
        "AuthorizerFunction",
        "Authorization",
        300,
    )
    expr = re.compile(auth.validation_expression)
    for good in ("Bearer aaa.bbb.ccc", "bearer a-b.c_d.e", "BEARER x.y.z"):
        assert expr.fullmatch(good), good
    for bad in ("Basic aaa.bbb.ccc", "Bearer aaa.bbb", "Bearer a.b.c extra", "aaa.bbb.ccc", "Bearer a.b.c="):
        assert not expr.fullmatch(bad), bad


def test_tables_keep_their_template_definitions(stack):
    users, pods = stack.tables["UsersTable"], stack.tables["PodsTable"]
    assert users["TableName"] == "podgate-local-UsersTable"
    assert users["KeySchema"] == [{"AttributeName": "username", "KeyType": "HASH"}]
    assert users["BillingMode"] == "PAY_PER_REQUEST"
    assert pods["KeySchema"] == [{"AttributeName": "pod_id", "KeyType": "HASH"}]
    (gsi,) = pods["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "owner-index"
    assert gsi["KeySchema"] == [
        {"AttributeName": "owner", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]


def test_secrets_keep_their_names_and_generation_rules(stack):
    jwt = stack.secrets["JwtSigningKeySecret"]
    assert jwt["Name"] == "podgate-local/jwt-signing-key"
    assert jwt["GenerateSecretString"] == {
        "SecretStringTemplate": '{"kid": "k1"}',
        "GenerateStringKey": "key",
        "PasswordLength": 64,
        "ExcludePunctuation": True,
    }
    assert stack.parameters["RunPodApiKeySecretName"] == "podgate/runpod-api-key"


def test_gateway_responses_give_api_md_bodies(stack):
    responses = stack.gateway_responses
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    assert (
        responses["MISSING_AUTHENTICATION_TOKEN"]["ResponseTemplates"]["application/json"] == '{"detail": "Not found"}'
    )
    assert responses["UNAUTHORIZED"]["StatusCode"] == "401"
    assert "$context.error.messageString" in responses["DEFAULT_4XX"]["ResponseTemplates"]["application/json"]


def test_layer_without_build_method_is_imported_from_its_python_folder():
    fixture = ROOT / "tests" / "fixtures" / "gateway_app"
    stack = load_stack(fixture / "template.yaml", stack_name="gwtest")
    assert stack.functions["EchoFunction"].layers == (fixture / "layer" / "python",)
    assert stack.binary_media_types == ("application/octet-stream",)
    assert stack.api_name == "gwtest-api"


def test_cors_is_the_apis_with_values_as_mapping_expressions(stack):
    assert stack.cors == Cors(
        allow_origin="'*'",
        allow_headers="'Authorization,Content-Type,Idempotency-Key'",
        allow_methods="'GET,POST,DELETE,OPTIONS'",
        max_age="'600'",
        allow_credentials=False,
        authorizer=None,  # AddDefaultAuthorizerToCorsPreflight: false
    )


def test_cors_origin_follows_its_parameter():
    stack = load_stack(parameter_overrides={"CorsAllowOrigin": "https://console.example.com"})
    assert stack.cors.allow_origin == "'https://console.example.com'"
    for name, response in stack.gateway_responses.items():
        headers = response["ResponseParameters"]["Headers"]
        assert headers["Access-Control-Allow-Origin"] == "'https://console.example.com'", name


def test_every_gateway_response_sends_the_allowed_origin(stack):
    assert set(stack.gateway_responses) >= {"UNAUTHORIZED", "ACCESS_DENIED", "THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX"}
    for name, response in stack.gateway_responses.items():
        assert response["ResponseParameters"]["Headers"]["Access-Control-Allow-Origin"] == "'*'", name


def test_method_settings_throttle_every_method_from_parameters(stack):
    assert stack.method_settings == (MethodSetting("/*", "*", 50.0, 100),)
    tight = load_stack(parameter_overrides={"ThrottlingRateLimit": "2.5", "ThrottlingBurstLimit": "7"})
    (setting,) = tight.method_settings
    assert (setting.throttling_rate_limit, setting.throttling_burst_limit) == (2.5, 7)
    assert setting.applies_to("/pods/{pod_id}", "DELETE")


def test_method_setting_paths_decode_like_cloudformation():
    one = MethodSetting("/~1pods~1{pod_id}", "GET", 1.0, 1)
    assert one.path == "/pods/{pod_id}"
    assert one.applies_to("/pods/{pod_id}", "get")
    assert not one.applies_to("/pods/{pod_id}", "DELETE")
    assert not one.applies_to("/pods", "GET")
    assert MethodSetting("/", "*").path == "/"
    assert MethodSetting("/~1pods", "*").applies_to("/pods", "POST")
    assert not MethodSetting("/*", "GET").applies_to("/pods", "GET")  # only "/*" with "*" means all


API_ONLY = """
    Transform: AWS::Serverless-2016-10-31
    Resources:
      Api:
        Type: AWS::Serverless::Api
        Properties:
          StageName: s
          {cors}
          Auth:
            DefaultAuthorizer: A
            Authorizers: {{}}
"""


@pytest.mark.parametrize(
    ("cors", "expected"),
    [
        # A plain string is AllowOrigin; the preflight then gets the default authorizer, SAM's default.
        ("Cors: \"'https://a.example'\"", Cors("'https://a.example'", authorizer="A")),
        (
            "Cors: {AllowOrigin: \"'*'\", MaxAge: 0, AllowCredentials: true}",
            Cors("'*'", max_age="0", allow_credentials=True, authorizer="A"),
        ),
        ("", None),
    ],
)
def test_cors_forms(tmp_path, cors, expected):
    template = tmp_path / "template.yaml"
    template.write_text(textwrap.dedent(API_ONLY.format(cors=cors)))
    stack = load_stack(template)
    assert stack.cors == expected
    assert stack.method_settings == ()


def test_cors_without_allow_origin_is_refused_as_sam_does(tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text(textwrap.dedent(API_ONLY.format(cors="Cors: {AllowHeaders: \"'X'\"}")))
    with pytest.raises(ValueError, match="AllowOrigin"):
        load_stack(template)
