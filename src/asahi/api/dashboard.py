"""The web dashboard at /dashboard/: the static export of `web/`, served by the API itself (no Node at run time).

`make dashboard` builds it into the package folder `asahi/dashboard/` (package data, so a wheel carries it). A
source checkout that never built it still answers /dashboard/, with how to build it instead of a bare 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

PREFIX = "/dashboard"
BUILT = Path(__file__).resolve().parents[1] / "dashboard"

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Asahi: dashboard not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem">
<h1>The dashboard is not built into this installation</h1>
<p>The API works; only the web dashboard's files are missing. From a source checkout, build them with
<code>make dashboard</code> (needs Node.js 20 and npm), then restart <code>asahi serve</code>.</p>
<p>They are looked for in <code>{folder}</code>.</p>
</body></html>
"""


def _not_built(folder: Path) -> Route:
    async def explain(_request: Request) -> HTMLResponse:
        return HTMLResponse(NOT_BUILT.format(folder=folder), status_code=404)

    return Route(PREFIX + "/{path:path}", explain, methods=["GET", "HEAD"])


def mount(app: FastAPI, folder: Path = BUILT) -> None:
    """Serve the dashboard at /dashboard/, and send the bare root there: it is where a person starts."""

    async def to_dashboard(_request: Request) -> RedirectResponse:
        return RedirectResponse(PREFIX + "/", status_code=307)

    app.router.routes.append(Route("/", to_dashboard, methods=["GET", "HEAD"], include_in_schema=False))
    if (folder / "index.html").is_file():
        app.router.routes.append(Mount(PREFIX, StaticFiles(directory=folder, html=True), name="dashboard"))
    else:
        app.router.routes.append(_not_built(folder))
