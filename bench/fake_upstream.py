"""A deliberately trivial OpenAI-compatible upstream for the gateway benchmark.

It must never be the bottleneck, so it is a bare ASGI app (no framework) on uvicorn with uvloop and httptools,
and every answer is a fixed text serialised once per model name. It answers POST /v1/chat/completions (JSON,
or SSE ending with a usage chunk when `stream_options.include_usage` asks for one, then `data: [DONE]`) and
GET /v1/models. A delay (the upstream's time to first byte) can be set at start and changed between runs with
POST /_bench/delay?ms=N, so the gateways in front of it stay up across scenarios; GET /_bench/stats counts the
completions it served, which is how the benchmark proves a "hit" run really never reached the provider.

    python bench/fake_upstream.py --port 9100 --delay-ms 50
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import orjson
import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TEXT = "The quick brown fox jumps over the lazy dog."
WORDS = [w + " " for w in TEXT.split(" ")[:-1]] + [TEXT.split(" ")[-1]]
USAGE = {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30,
         "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
         "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                       "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
NOT_FOUND = b'{"error":{"message":"not found","type":"invalid_request_error"}}'
MODELS = orjson.dumps({"object": "list", "data": [
    {"id": m, "object": "model", "created": 1721172741, "owned_by": "system"}
    for m in ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini")]})


class Upstream:
    def __init__(self, delay_ms: float) -> None:
        self.delay_s = delay_ms / 1000
        self.completions = 0
        self._json: dict[str, bytes] = {}
        self._sse: dict[tuple[str, bool], bytes] = {}

    def _completion(self, model: str) -> bytes:
        if model not in self._json:
            self._json[model] = orjson.dumps({
                "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
                "model": model, "system_fingerprint": "fp_bench", "service_tier": "default",
                "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                             "message": {"role": "assistant", "content": TEXT, "refusal": None,
                                         "annotations": []}}],
                "usage": USAGE})
        return self._json[model]

    def _events(self, model: str, include_usage: bool) -> bytes:
        key = (model, include_usage)
        if key not in self._sse:
            head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": int(time.time()),
                    "model": model, "system_fingerprint": "fp_bench", "service_tier": "default"}

            def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
                choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                return {**head, "choices": [choice], **({"usage": None} if include_usage else {})}

            events = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
            events += [chunk({"content": w}, None) for w in WORDS]
            events.append(chunk({}, "stop"))
            if include_usage:
                events.append({**head, "choices": [], "usage": USAGE})
            frames = [b"data: " + orjson.dumps(e) + b"\n\n" for e in events]
            self._sse[key] = b"".join(frames) + b"data: [DONE]\n\n"
        return self._sse[key]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan and websockets: nothing to set up
        method, path = scope["method"], scope["path"]
        if method == "POST" and path == "/v1/chat/completions":
            await self._chat(receive, send)
        elif method == "GET" and path == "/v1/models":
            await _respond(send, 200, JSON_HEADERS, MODELS)
        elif method == "POST" and path == "/_bench/delay":
            ms = parse_qs(scope["query_string"].decode()).get("ms", ["0"])[0]
            self.delay_s = float(ms) / 1000
            await _respond(send, 200, JSON_HEADERS, orjson.dumps({"delay_ms": float(ms)}))
        elif method == "GET" and path == "/_bench/stats":
            await _respond(send, 200, JSON_HEADERS, orjson.dumps({"completions": self.completions,
                                                                  "delay_ms": self.delay_s * 1000}))
        else:
            await _respond(send, 404, JSON_HEADERS, NOT_FOUND)

    async def _chat(self, receive: Receive, send: Send) -> None:
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            body = orjson.loads(raw)
            model = str(body["model"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            await _respond(send, 400, JSON_HEADERS,
                           b'{"error":{"message":"invalid body","type":"invalid_request_error"}}')
            return
        self.completions += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if not body.get("stream"):
            await _respond(send, 200, JSON_HEADERS, self._completion(model))
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        # All events in one write: a real provider spaces them out, but here the point is to cost nothing.
        # Without a content-length the response still goes out chunked, as an SSE stream does.
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        await send({"type": "http.response.body", "body": self._events(model, include_usage)})


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    uvicorn.run(Upstream(args.delay_ms), host="127.0.0.1", port=args.port, loop="uvloop", http="httptools",
                lifespan="off", log_level="warning", access_log=False, server_header=False,
                date_header=False)


if __name__ == "__main__":
    main()
