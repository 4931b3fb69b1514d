"""GET /health: the API is up. `?deep=true` also checks RunPod and the tables.

The plain answer is a constant: it logs nothing and imports nothing beyond the standard
library, so a cold health check costs little more than the interpreter. Only the deep check
loads the logger, the clients and the metrics it needs.
"""

from podgate import cors

_BODY = '{"status":"ok","source":"runpod_api"}'


def lambda_handler(event, context):
    headers = {"Content-Type": "application/json", **cors.headers(event.get("headers"))}
    if ((event.get("queryStringParameters") or {}).get("deep") or "").lower() != "true":
        return {"statusCode": 200, "headers": headers, "body": _BODY}
    return _deep(headers, context)


def _deep(headers, context):
    import json

    from podgate import runtime
    from podgate.observability import logger, metrics
    from podgate.services.health import deep_check

    @metrics.log_metrics
    @logger.inject_lambda_context(log_event=False)
    def check(event, ctx):
        token = runtime.lambda_context.set(ctx)
        try:
            result = deep_check()
        finally:
            runtime.lambda_context.reset(token)
        if result["status"] != "ok":
            logger.warning("deep health check degraded", extra={"checks": result["checks"]})
        return result

    result = check({}, context)
    status = 200 if result["status"] == "ok" else 503
    return {"statusCode": status, "headers": headers, "body": json.dumps(result)}
