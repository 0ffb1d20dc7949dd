"""The ceiling under any gateway on this machine: the HTTP server alone, answering without doing anything.

`asahi serve` runs uvicorn with uvloop and httptools (through Asahi's header-timeout protocol). This serves, with
exactly that stack on one pinned CPU, an ASGI app that reads the request body, parses it with orjson and answers
a canned chat completion of the size a tier 1 hit returns: no auth, no cache, no ledger. Whatever requests/s it
reaches at 64 connections bounds what any Python gateway built on this server reaches on one core here, and the
CPU it spends per request is the part of a tier 1 hit that is not Asahi's.

    .venv/bin/python bench/server_ceiling.py                 # both apps, 64 connections, 8 s each
    .venv/bin/python bench/server_ceiling.py --serve bare    # (internal) the server process itself
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_bench import Service, cpu_seconds, free_port, pin, wrk

ANSWER = orjson.dumps({
    "id": "chatcmpl-ceiling", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                 "message": {"role": "assistant", "content": "A canned answer of about the size of a short hit.",
                             "refusal": None}}],
    "usage": {"prompt_tokens": 14, "completion_tokens": 12, "total_tokens": 26},
})
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Read the whole body, parse it, answer: the least an OpenAI-compatible server can do per request."""
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if body:
        orjson.loads(body)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


def starlette_app() -> Any:
    """The same answer through a Starlette route: what the framework's routing and request object add."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def chat(request: Request) -> Response:
        orjson.loads(await request.body())
        return Response(ANSWER, media_type="application/json")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def serve(kind: str, port: int) -> None:
    import uvicorn

    from asahi.server import guarded_protocol

    app = bare if kind == "bare" else starlette_app()
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http=guarded_protocol(10.0), log_config=None,
                access_log=False)


def measure(kind: str, conns: int, seconds: float, cpus: tuple[set[int], set[int]] | None) -> dict[str, Any]:
    port = free_port()
    server = Service(f"ceiling-{kind}", [sys.executable, str(Path(__file__).resolve()), "--serve", kind,
                                         "--port", str(port)], dict(os.environ), port).start()
    try:
        server.wait_ready("/", 30)
        if cpus:
            pin(server.pid, cpus[0])
        wrk(server.url, "", "hit", False, conns, 2, "", cpus[1] if cpus else None)  # warm-up
        before = cpu_seconds(server.pid)
        result = wrk(server.url, "", "hit", False, conns, seconds, "", cpus[1] if cpus else None)
        cpu = cpu_seconds(server.pid) - before
    finally:
        server.stop()
    requests = max(int(result["requests"]), 1)
    return {"app": kind, "conns": conns, "requests_per_s": result["rps"], "p50_ms": result["p50_ms"],
            "p99_ms": result["p99_ms"], "cpu_us_per_request": round(cpu / requests * 1e6, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", choices=["bare", "starlette"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--conns", type=int, default=64)
    parser.add_argument("--duration", type=float, default=8.0)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return 0
    allowed = sorted(os.sched_getaffinity(0))
    cpus = None if len(allowed) < 2 else ({allowed[0]}, set(allowed[1:]))
    started = time.strftime("%Y-%m-%d")
    for kind in ("bare", "starlette"):
        row = measure(kind, args.conns, args.duration, cpus)
        print(json.dumps({"date": started, **row}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
