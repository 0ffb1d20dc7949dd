"""A fake OpenAI Chat Completions server: `POST /v1/chat/completions`, JSON or SSE, OpenAI's error bodies.

Point an SDK at `server.base_url`. Usage counts come from the scripted `Reply`, including
`prompt_tokens_details.cached_tokens`; streams end with `data: [DONE]` and carry the usage chunk (empty
`choices`) only when the request set `stream_options.include_usage`.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.cohere_server import fake_vector
from tests.fakes.server import Fail, FakeServer, Recorded, Reply, split_words, sse_event

_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_denied",
                404: "invalid_request_error", 429: "requests"}
_ERROR_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}


class FakeOpenAI(FakeServer):
    path = "/v1/chat/completions"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def check(self, request: Request, body: Any) -> Fail | None:
        if not self.accepts(request.headers.get("authorization", "").removeprefix("Bearer ")):
            return Fail(401, "Incorrect API key provided.")
        if not isinstance(body, dict) or "model" not in body or "messages" not in body:
            return Fail(400, "you must provide a model parameter")
        return None

    def _usage(self, reply: Reply) -> dict[str, Any]:
        return {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
            "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        }

    @staticmethod
    def _finish(reply: Reply) -> str:
        return reply.finish or ("tool_calls" if reply.tool_calls else "stop")

    @staticmethod
    def _calls(reply: Reply) -> list[dict[str, Any]]:
        return [
            {"id": f"call_{i}", "type": "function",
             "function": {"name": name, "arguments": orjson.dumps(args).decode()}}
            for i, (name, args) in enumerate(reply.tool_calls)
        ]

    @staticmethod
    def _logprobs(body: dict[str, Any], pieces: list[str]) -> dict[str, Any] | None:
        """Log probabilities as OpenAI reports them, one entry per token (here: per piece), when asked for."""
        if not body.get("logprobs"):
            return None
        top = int(body.get("top_logprobs") or 0)
        return {"content": [
            {"token": piece, "logprob": -0.25, "bytes": list(piece.encode()),
             "top_logprobs": [{"token": piece, "logprob": -0.25, "bytes": list(piece.encode())}] * top}
            for piece in pieces
        ], "refusal": None}

    def _usage_for(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        usage = self._usage(reply)
        if body.get("reasoning_effort"):  # a reasoning model thinks before it answers: part of the output
            usage["completion_tokens_details"]["reasoning_tokens"] = min(3, reply.output_tokens)
        return usage

    def reply_json(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None,
                                   "annotations": []}
        if reply.tool_calls:
            message["tool_calls"] = self._calls(reply)
        logprobs = self._logprobs(body, split_words(reply.text)) if reply.text else None
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or body["model"],
            "choices": [{"index": 0, "message": message, "logprobs": logprobs, "finish_reason": self._finish(reply)}],
            "usage": self._usage_for(body, reply),
            "service_tier": body.get("service_tier") or "default",
            "system_fingerprint": "fp_fake",
        }

    def reply_events(self, body: dict[str, Any], reply: Reply) -> list[bytes]:
        include_usage = reply.stream_usage and bool((body.get("stream_options") or {}).get("include_usage"))
        envelope = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                    "model": reply.model or body["model"], "system_fingerprint": None}

        def chunk(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> bytes:
            data = {**envelope, "choices": [{"index": 0, "delta": delta, "logprobs": logprobs,
                                             "finish_reason": finish}]}
            if include_usage:
                data["usage"] = None
            return sse_event(data)

        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        if reply.text:
            events += [chunk({"content": piece}, logprobs=self._logprobs(body, [piece]))
                       for piece in split_words(reply.text)]
        for i, call in enumerate(self._calls(reply)):
            args = call["function"]["arguments"]
            opening = {"index": i, "id": call["id"], "type": "function",
                       "function": {"name": call["function"]["name"], "arguments": ""}}
            events.append(chunk({"tool_calls": [opening]}))
            half = len(args) // 2
            for piece in (args[:half], args[half:]):
                events.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
        events.append(chunk({}, self._finish(reply)))
        if include_usage:
            events.append(sse_event({**envelope, "choices": [], "usage": self._usage_for(body, reply)}))
        return [*events, b"data: [DONE]\n\n"]

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        return {"error": {"message": message, "type": kind, "param": None, "code": _ERROR_CODES.get(status)}}

    def stream_error_event(self, status: int, message: str) -> bytes:
        return sse_event(self.error_body(status, message))


EMBEDDING_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class FakeOpenAIEndpoints(FakeOpenAI):
    """The fake OpenAI server with the embeddings and legacy completions endpoints, as OpenAI answers them:
    deterministic vectors per input (float arrays, or base64 float32 when asked), `text_completion` objects and
    their stream. Every request is recorded like a chat one."""

    def app(self) -> Starlette:
        app = super().app()
        app.router.routes.append(Route("/v1/embeddings", self._embeddings, methods=["POST"]))
        app.router.routes.append(Route("/v1/completions", self._completions, methods=["POST"]))
        return app

    async def _read(self, request: Request) -> tuple[Any, Response | None]:
        body = orjson.loads(await request.body())
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        if not self.accepts(request.headers.get("authorization", "").removeprefix("Bearer ")):
            return body, _json(self.error_body(401, "Incorrect API key provided."), 401)
        return body, None

    async def _embeddings(self, request: Request) -> Response:
        body, error = await self._read(request)
        if error is not None:
            return error
        dimension = EMBEDDING_DIMENSIONS.get(body.get("model"))
        if dimension is None:
            return _json(self.error_body(404, f"The model `{body.get('model')}` does not exist"), 404)
        dimension = int(body.get("dimensions") or dimension)
        inputs = body["input"] if isinstance(body["input"], list) and not isinstance(body["input"][0], int) \
            else [body["input"]]
        data = []
        for index, item in enumerate(inputs):
            text = item if isinstance(item, str) else " ".join(map(str, item))
            vector = [float(x) for x in fake_vector(text, dimension)]
            value: Any = vector
            if body.get("encoding_format") == "base64":
                value = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
            data.append({"object": "embedding", "index": index, "embedding": value})
        tokens = sum(len(str(i).split()) for i in inputs)
        return _json({"object": "list", "data": data, "model": body["model"],
                      "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def _completions(self, request: Request) -> Response:
        body, error = await self._read(request)
        if error is not None:
            return error
        reply = self._script.popleft() if self._script else Reply()
        if not isinstance(reply, Reply):
            return _json(self.error_body(500, "scripted failure"), 500)
        head = {"id": "cmpl-fake", "object": "text_completion", "created": int(time.time()), "model": body["model"]}
        usage = {"prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
                 "total_tokens": reply.input_tokens + reply.output_tokens}
        if body.get("stream"):
            events = [sse_event({**head, "choices": [{"index": 0, "text": piece, "logprobs": None,
                                                       "finish_reason": None}]}) for piece in split_words(reply.text)]
            events.append(sse_event({**head, "choices": [{"index": 0, "text": "", "logprobs": None,
                                                           "finish_reason": "stop"}]}))
            if (body.get("stream_options") or {}).get("include_usage"):
                events.append(sse_event({**head, "choices": [], "usage": usage}))
            return StreamingResponse(iter([*events, b"data: [DONE]\n\n"]), media_type="text/event-stream")
        return _json({**head, "choices": [{"index": 0, "text": reply.text, "logprobs": None,
                                           "finish_reason": "stop"}], "usage": usage})


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")
