"""What every fake provider server shares: scripted behaviours, request recording, a uvicorn thread.

A test scripts the next responses (`server.script(Reply(...), Fail(429, ...), Drop())`); once the script is
used up the server answers with a default `Reply`. Every request is recorded, so a test can assert exactly what
an adapter sent.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


@dataclass(frozen=True)
class Reply:
    """A successful answer, as JSON or as a stream, whichever the request asked for."""

    text: str = "Hello from the fake."
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()  # (name, arguments)
    finish: str | None = None  # the provider's own finish/stop reason; None picks the natural one
    input_tokens: int = 12  # every prompt token, cached ones included
    output_tokens: int = 5
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    stream_usage: bool = True  # False: act like a compatible server that ignores stream_options
    event_delay: float = 0.0  # seconds between stream events: time for a client to go away mid-stream
    model: str | None = None  # the model name answered with (real providers answer with dated names)


@dataclass(frozen=True)
class Fail:
    """An HTTP error; `body` None means the provider's standard error body for `status`."""

    status: int
    message: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True)
class Slow:
    seconds: float
    then: Reply = Reply()


@dataclass(frozen=True)
class Drop:
    """Close the connection mid-response: after `after_events` SSE events, or mid-body for plain JSON."""

    after_events: int = 0


@dataclass(frozen=True)
class StreamFail:
    """Start a stream, then send the provider's in-stream error event."""

    after_events: int
    status: int = 500
    message: str = "scripted mid-stream failure"


@dataclass(frozen=True)
class Raw:
    """Exactly these bytes with this status: a body that breaks the protocol (not JSON, not an answer)."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"


Behaviour = Reply | Fail | Slow | Drop | StreamFail | Raw


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


class _Dropped(Exception):
    """Raised inside a response body so uvicorn aborts the connection."""


class FakeServer:
    """A provider fake on 127.0.0.1 and a free port, run by uvicorn in a background thread."""

    path: str

    def __init__(self) -> None:
        self._script: deque[Behaviour] = deque()
        self.requests: list[Recorded] = []
        self.api_key = "test-key"
        self.other_keys: set[str] = set()  # more accounts this fake takes (an org's own key, BYOK)
        self.abandoned_streams = 0  # streams whose client went away before the last event was sent
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- to be provided by each protocol ---
    def reply_json(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        raise NotImplementedError

    def reply_events(self, body: dict[str, Any], reply: Reply) -> list[bytes]:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        raise NotImplementedError

    def stream_error_event(self, status: int, message: str) -> bytes:
        raise NotImplementedError

    def check(self, request: Request, body: Any) -> Fail | None:
        """Reject what the real API would reject before any scripted behaviour applies."""
        return None

    # --- scripting ---
    def script(self, *behaviours: Behaviour) -> None:
        self._script.extend(behaviours)

    def accepts(self, *presented: str | None) -> bool:
        return any(k == self.api_key or k in self.other_keys for k in presented if k)

    def reset(self) -> None:
        self._script.clear()
        self.requests.clear()
        self.other_keys.clear()
        self.abandoned_streams = 0

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- HTTP ---
    async def _endpoint(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        rejected = self.check(request, body)
        behaviour: Behaviour = rejected or (self._script.popleft() if self._script else Reply())
        if isinstance(behaviour, Slow):
            await asyncio.sleep(behaviour.seconds)
            behaviour = behaviour.then
        if isinstance(behaviour, Raw):
            return Response(behaviour.body, behaviour.status, media_type=behaviour.content_type)
        if isinstance(behaviour, Fail):
            payload = behaviour.body
            if payload is None:
                payload = self.error_body(behaviour.status, behaviour.message)
            return Response(orjson.dumps(payload), behaviour.status, behaviour.headers, "application/json")
        streaming = isinstance(body, dict) and body.get("stream") is True
        if isinstance(behaviour, Reply):
            if streaming:
                return _sse(self.reply_events(body, behaviour), delay=behaviour.event_delay,
                            on_abandon=self._abandoned)
            return Response(orjson.dumps(self.reply_json(body, behaviour)), media_type="application/json")
        if isinstance(behaviour, StreamFail):
            events = self.reply_events(body, Reply())[: behaviour.after_events]
            return _sse([*events, self.stream_error_event(behaviour.status, behaviour.message)])
        if streaming:
            return _sse(self.reply_events(body, Reply())[: behaviour.after_events], drop=True)
        whole = orjson.dumps(self.reply_json(body, Reply()))
        return StreamingResponse(
            _chunks([whole[: len(whole) // 2]], drop=True),
            media_type="application/json",
            headers={"content-length": str(len(whole))},
        )

    def _abandoned(self) -> None:
        self.abandoned_streams += 1

    def app(self) -> Starlette:
        return Starlette(routes=[Route(self.path, self._endpoint, methods=["POST"])])

    # --- lifecycle ---
    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app(), log_level="critical", access_log=False, lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def sse_event(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


async def _chunks(
    parts: Sequence[bytes], *, drop: bool = False, delay: float = 0.0, on_abandon: Callable[[], None] | None = None
) -> AsyncIterator[bytes]:
    sent = 0
    try:
        for part in parts:
            yield part
            sent += 1
            # Let each event leave separately, as a real upstream's would.
            await asyncio.sleep(delay)
    finally:
        # Cancelled or closed before the end: the connection went away under the stream.
        if sent < len(parts) and on_abandon is not None:
            on_abandon()
    if drop:
        raise _Dropped


def _sse(
    events: list[bytes], *, drop: bool = False, delay: float = 0.0, on_abandon: Callable[[], None] | None = None
) -> StreamingResponse:
    return StreamingResponse(_chunks(events, drop=drop, delay=delay, on_abandon=on_abandon),
                             media_type="text/event-stream")


def split_words(text: str, size: int = 2) -> list[str]:
    """Cut text into pieces of a few words, keeping the spaces, the way models stream it."""
    words = text.split(" ")
    pieces = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    return [p + " " if i < len(pieces) - 1 else p for i, p in enumerate(pieces)]

