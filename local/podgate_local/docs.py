"""The OpenAPI document: generated here (`make openapi`), and shown at /docs by the local stack.

python -m podgate_local.docs            write layers/podgate/podgate/openapi.json
python -m podgate_local.docs --check    exit 1 when the committed document is stale

The document is podgate.openapi's build from template.yaml's routes; the committed copy lives
in the layer package (the OpenApiFunction serves it at GET /openapi.json) and docs/openapi.json
is a link to it, so there is one copy.

/docs is Swagger UI, served from the `swagger-ui-py` package installed in the venv (its static
folder; nothing is fetched from a CDN, and the page's Content-Security-Policy forbids it). It is
a local convenience outside the template: `serve_docs(gateway)` answers GET /docs and
/docs/<asset> (also under the stage prefix) before the gateway's routing, and passes everything
else through untouched. The page reads the document from the API itself (openapi.json beside
/docs), so what it shows is what the OpenApiFunction serves.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from podgate_local.template import ROOT, TEMPLATE_PATH, load_raw, load_stack

if TYPE_CHECKING:
    from podgate_local.gateway import GatewayResponse, LocalGateway

DOCS = "docs"
# Swagger UI's files the page uses (name -> media type); nothing else is served.
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
INIT_SCRIPT = "podgate-docs.js"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


# --- the document ---------------------------------------------------------------------------


def document_text(template: Path = TEMPLATE_PATH) -> str:
    """The document as `make openapi` writes it, built from `template`'s routes."""
    from podgate.openapi import build_document, render  # imports pydantic: only when generating

    stack = load_stack(template)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    description = " ".join(str(load_raw(template).get("Description", "")).split())
    return render(
        build_document(
            stack.routes,
            title=project["name"],
            version=project["version"],
            description=description,
            stage=stack.parameters["StageName"],
        )
    )


def document_path() -> Path:
    from podgate.openapi import DOCUMENT_PATH

    return DOCUMENT_PATH


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m podgate_local.docs", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed document is stale")
    args = parser.parse_args(argv)
    path = document_path()
    text = document_text()
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{shown} is stale: run `make openapi`", file=sys.stderr)
            return 1
        print(f"{shown} is up to date")
        return 0
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {shown}")
    else:
        print(f"{shown} is up to date")
    return 0


# --- the /docs page -------------------------------------------------------------------------


def swagger_ui_dir() -> Path | None:
    """swagger-ui-py's static folder (found without importing the package), or None."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>podgate API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="docs/favicon-16x16.png" sizes="16x16">
<style>body { margin: 0 }</style>
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/podgate-docs.js"></script>
</body>
</html>
"""

# openapi.json is relative to the page: /docs reads /openapi.json, /dev/docs reads /dev/openapi.json.
INIT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", window.location.href).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
    persistAuthorization: true,
    displayRequestDuration: true
  });
});
"""


@functools.cache
def _asset(name: str) -> bytes | None:
    folder = swagger_ui_dir()
    return None if folder is None else (folder / name).read_bytes()


def docs_response(method: str, path: str, stage: str) -> GatewayResponse | None:
    """The answer for a /docs request, or None for anything else (the gateway's business)."""
    from podgate_local.gateway import GatewayResponse

    if method not in ("GET", "HEAD"):
        return None
    prefix = ""
    if path.startswith(f"/{stage}/"):
        prefix, path = f"/{stage}", path[len(stage) + 1 :]
    if path == f"/{DOCS}/":
        return GatewayResponse(308, [("Location", f"{prefix}/{DOCS}")], b"")
    if path != f"/{DOCS}" and not path.startswith(f"/{DOCS}/"):
        return None
    headers = [("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff")]
    if swagger_ui_dir() is None:
        text = b"/docs needs the swagger-ui-py package: pip install -r requirements-dev.txt\n"
        return GatewayResponse(503, [*headers, ("Content-Type", "text/plain; charset=utf-8")], text)
    name = path.removeprefix(f"/{DOCS}").lstrip("/")
    if not name:
        return GatewayResponse(200, [*headers, ("Content-Type", "text/html; charset=utf-8")], PAGE.encode())
    if name == INIT_SCRIPT:
        return GatewayResponse(200, [*headers, ("Content-Type", "text/javascript; charset=utf-8")], INIT.encode())
    if name in ASSETS:
        body = _asset(name) or b""
        return GatewayResponse(
            200, [*headers, ("Content-Type", ASSETS[name]), ("Cache-Control", "max-age=3600")], body
        )
    body = json.dumps({"detail": "Not found"}).encode()
    return GatewayResponse(404, [("Content-Type", "application/json")], body)


def serve_docs(gateway: LocalGateway) -> LocalGateway:
    """Answer /docs on `gateway` (a hook around its `handle`); everything else goes on as before."""
    inner = gateway.handle
    stage = gateway.stack.stage

    def handle(req):  # type: ignore[no-untyped-def]
        response = docs_response(req.method, req.raw_path, stage)
        return inner(req) if response is None else response

    gateway.handle = handle  # type: ignore[method-assign]
    return gateway


if __name__ == "__main__":
    sys.exit(main())
