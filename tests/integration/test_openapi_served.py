"""The document as the local stack serves it: GET /openapi.json through the gateway (the
OpenApiFunction, no token), and the /docs page with its assets, all from this machine."""

from __future__ import annotations

import re

import requests

from podgate.openapi import DOCUMENT_PATH


def test_openapi_json_is_the_committed_document_without_a_token(stack):
    for base in (stack.url, stack.stage_url):
        resp = requests.get(f"{base}/openapi.json", headers={"Origin": "https://console.example.com"}, timeout=30)
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == "application/json"
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert resp.content == DOCUMENT_PATH.read_bytes()


def test_openapi_json_takes_only_get(stack):
    resp = requests.post(f"{stack.url}/openapi.json", json={}, timeout=30)
    assert resp.status_code == 404 and resp.json() == {"detail": "Not found"}


def test_docs_page_and_every_asset_it_loads_come_from_the_stack(stack):
    for base in (stack.url, stack.stage_url):
        page = requests.get(f"{base}/docs", timeout=30)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(not a.startswith(("http:", "https:", "//")) for a in assets)
        for asset in assets:
            served = requests.get(f"{base}/{asset}", timeout=30)
            assert served.status_code == 200, asset
            assert served.content
