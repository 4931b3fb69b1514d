"""GET /health: the API is up. Deliberately touches nothing else, so it stays cheap."""

from podgate import cors
from podgate.observability import logger

_BODY = '{"status":"ok","source":"runpod_api"}'


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event, context):
    headers = {"Content-Type": "application/json", **cors.headers(event.get("headers"))}
    return {"statusCode": 200, "headers": headers, "body": _BODY}
