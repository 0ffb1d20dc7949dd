"""The dashboard's static files at /dashboard/, and a clear page when they were not built."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from asahi.api import dashboard
from tests.conftest import Running


def client_for(folder: Path) -> httpx.AsyncClient:
    app = FastAPI()
    dashboard.mount(app, folder)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://asahi.test")


async def test_the_built_export_is_served_with_its_pages(tmp_path: Path) -> None:
    (tmp_path / "requests").mkdir()
    (tmp_path / "index.html").write_text("<h1>overview</h1>")
    (tmp_path / "requests" / "index.html").write_text("<h1>requests</h1>")
    (tmp_path / "404.html").write_text("<h1>lost</h1>")
    async with client_for(tmp_path) as client:
        assert (await client.get("/dashboard/")).text == "<h1>overview</h1>"
        assert (await client.get("/dashboard/requests/")).text == "<h1>requests</h1>"
        bare = await client.get("/dashboard")
        assert bare.status_code in (307, 308) and bare.headers["location"].endswith("/dashboard/")
        missing = await client.get("/dashboard/nowhere/")
        assert missing.status_code == 404 and missing.text == "<h1>lost</h1>"
        root = await client.get("/")
        assert root.status_code == 307 and root.headers["location"] == "/dashboard/"


async def test_an_unbuilt_dashboard_says_how_to_build_it(tmp_path: Path) -> None:
    async with client_for(tmp_path / "absent") as client:
        for path in ("/dashboard/", "/dashboard/keys/"):
            response = await client.get(path)
            assert response.status_code == 404
            assert "make dashboard" in response.text and response.headers["content-type"].startswith("text/html")


async def test_the_gateway_mounts_it_beside_the_api(running: Running) -> None:
    response = await running.client.get("/dashboard/")
    assert response.status_code in (200, 404) and response.headers["content-type"].startswith("text/html")
    assert (await running.client.get("/health")).status_code == 200
    assert "/dashboard" not in (await running.client.get("/openapi.json")).json()["paths"]
