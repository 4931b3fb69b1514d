"""GET /health: the API is up. `?deep=true` also checks RunPod and the tables.

The plain answer touches nothing else and imports nothing heavy, so it stays cheap; only the
deep check pulls in the clients it needs.
"""

import json

from podgate import cors
from podgate.observability import logger, metrics

_BODY = '{"status":"ok","source":"runpod_api"}'


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event, context):
    headers = {"Content-Type": "application/json", **cors.headers(event.get("headers"))}
    if ((event.get("queryStringParameters") or {}).get("deep") or "").lower() != "true":
        return {"statusCode": 200, "headers": headers, "body": _BODY}

    from podgate import runtime
    from podgate.services.health import deep_check

    token = runtime.lambda_context.set(context)
    try:
        result = deep_check()
    finally:
        runtime.lambda_context.reset(token)
    if result["status"] != "ok":
        logger.warning("deep health check degraded", extra={"checks": result["checks"]})
    return {"statusCode": 200 if result["status"] == "ok" else 503, "headers": headers, "body": json.dumps(result)}
