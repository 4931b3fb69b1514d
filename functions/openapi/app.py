"""GET /openapi.json: the API's OpenAPI 3.1 document, exactly as `make openapi` wrote it.

The document ships in the layer (podgate/openapi.json, the one committed copy; docs/openapi.json
links to it). It is read once per container and returned as stored: the function imports only
the standard library and podgate.cors, never pydantic or the models, and generates nothing.
"""

import os

import podgate
from podgate import cors

# os.path rather than importlib.resources, which alone would add ~35 ms to a cold start.
with open(os.path.join(os.path.dirname(podgate.__file__), "openapi.json"), encoding="utf-8") as _fh:
    BODY = _fh.read()


def lambda_handler(event, context):
    headers = {
        "Content-Type": "application/json",
        "Cache-Control": "public, max-age=300",
        **cors.headers(event.get("headers")),
    }
    return {"statusCode": 200, "headers": headers, "body": BODY}
