"""A fake Anthropic Messages server: `POST /v1/messages`, JSON or the SSE event sequence, Anthropic's errors.

Point an SDK at `server.url`. `Reply.input_tokens` counts every prompt token; the fake reports Anthropic's
split (`input_tokens` without cache reads and writes, plus `cache_read_input_tokens` and
`cache_creation_input_tokens`), the way the real API bills.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.server import Fail, FakeServer, Recorded, Reply, split_words, sse_event

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


THOUGHT = "The user wants a short answer."
SIGNATURE = "sig-fake-0001"


class FakeAnthropic(FakeServer):
    path = "/v1/messages"

    def check(self, request: Request, body: Any) -> Fail | None:
        # Older SDKs send the key as x-api-key, newer ones as a bearer token; the API takes both.
        keys = {request.headers.get("x-api-key"), request.headers.get("authorization", "").removeprefix("Bearer ")}
        if not self.accepts(*keys):
            return Fail(401, "invalid x-api-key")
        if "anthropic-version" not in request.headers:
            return Fail(400, "anthropic-version: header is required")
        if not isinstance(body, dict) or not isinstance(body.get("max_tokens"), int):
            return Fail(400, "max_tokens: Field required")
        return None

    @staticmethod
    def _usage(reply: Reply) -> dict[str, Any]:
        return {
            "input_tokens": reply.input_tokens - reply.cached_tokens - reply.cache_write_tokens,
            "output_tokens": reply.output_tokens,
            "cache_read_input_tokens": reply.cached_tokens,
            "cache_creation_input_tokens": reply.cache_write_tokens,
        }

    @staticmethod
    def _stop(reply: Reply) -> str:
        return reply.finish or ("tool_use" if reply.tool_calls else "end_turn")

    def _message(self, body: dict[str, Any], content: list[dict[str, Any]], stop: str | None,
                 usage: dict[str, Any]) -> dict[str, Any]:
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": body["model"],
                "content": content, "stop_reason": stop, "stop_sequence": None, "usage": usage}

    @staticmethod
    def _thinks(body: dict[str, Any]) -> bool:
        return (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")

    def reply_json(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if self._thinks(body):  # extended thinking answers its thinking first, signed for the next turn
            content.append({"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE})
        content += [{"type": "text", "text": reply.text}] if reply.text else []
        content += [{"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": args}
                    for i, (name, args) in enumerate(reply.tool_calls)]
        return self._message(body, content, self._stop(reply), self._usage(reply))

    def reply_events(self, body: dict[str, Any], reply: Reply) -> list[bytes]:
        start_usage = {**self._usage(reply), "output_tokens": 1}
        events = [sse_event({"type": "message_start", "message": self._message(body, [], None, start_usage)},
                            "message_start")]
        index = 0

        def block(content_block: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
            nonlocal index
            events.append(sse_event({"type": "content_block_start", "index": index, "content_block": content_block},
                                    "content_block_start"))
            if index == 0:
                events.append(sse_event({"type": "ping"}, "ping"))
            events.extend(sse_event({"type": "content_block_delta", "index": index, "delta": d},
                                    "content_block_delta") for d in deltas)
            events.append(sse_event({"type": "content_block_stop", "index": index}, "content_block_stop"))
            index += 1

        if self._thinks(body):
            block({"type": "thinking", "thinking": "", "signature": ""},
                  [*({"type": "thinking_delta", "thinking": piece} for piece in split_words(THOUGHT)),
                   {"type": "signature_delta", "signature": SIGNATURE}])
        if reply.text:
            block({"type": "text", "text": ""},
                  [{"type": "text_delta", "text": piece} for piece in split_words(reply.text)])
        for i, (name, args) in enumerate(reply.tool_calls):
            text = orjson.dumps(args).decode()
            half = len(text) // 2
            block({"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": {}},
                  [{"type": "input_json_delta", "partial_json": p} for p in (text[:half], text[half:])])
        events.append(sse_event({"type": "message_delta",
                                 "delta": {"stop_reason": self._stop(reply), "stop_sequence": None},
                                 "usage": {"output_tokens": reply.output_tokens}}, "message_delta"))
        events.append(sse_event({"type": "message_stop"}, "message_stop"))
        return events

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind = _ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}

    def stream_error_event(self, status: int, message: str) -> bytes:
        return sse_event(self.error_body(status, message), "error")


class FakeAnthropicEndpoints(FakeAnthropic):
    """The fake Anthropic server with `POST /v1/messages/count_tokens`, which (like the real one) takes the Messages
    body without max_tokens, refuses unknown fields, and counts here one token per word plus 3 per message."""

    def app(self) -> Starlette:
        app = super().app()
        app.router.routes.append(Route("/v1/messages/count_tokens", self._count, methods=["POST"]))
        return app

    async def _count(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        keys = {request.headers.get("x-api-key"), request.headers.get("authorization", "").removeprefix("Bearer ")}
        if not self.accepts(*keys):
            return _json(self.error_body(401, "invalid x-api-key"), 401)
        extra = sorted(set(body) - COUNT_FIELDS)
        if extra:
            return _json(self.error_body(400, f"{extra[0]}: Extra inputs are not permitted"), 400)
        words = len(orjson.dumps(body.get("messages")).decode().split()) + len(str(body.get("system") or "").split())
        return _json({"input_tokens": words + 3 * len(body.get("messages") or [])})


COUNT_FIELDS = frozenset({"model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers",
                          "output_config"})


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")
