"""Raw ASGI middleware: request ids and the body size limit.

Plain ASGI rather than Starlette's BaseHTTPMiddleware: it costs microseconds on the hot path and does not buffer
streaming responses.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asahi.api.errors import error_body
from asahi.call import new_request_id
from asahi.observability.logging import request_id_var


class RequestContext:
    """Gives every request an id and sends it back as `x-asahi-request-id` (feedback and the ledger use it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        header = (b"x-asahi-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


def declared_over(scope: Scope, max_bytes: int) -> bool:
    """Whether Content-Length already says the body is over the limit."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > max_bytes:
            return True
    return False


def too_large_body(max_bytes: int) -> bytes:
    return error_body("body_too_large", f"The request body exceeds {max_bytes} bytes.")


def too_slow_body(seconds: float) -> bytes:
    return error_body("request_timeout", f"The request body did not arrive within {seconds:g} s.")


class LimitedReceive:
    """`receive` that stops a body at `max_bytes` and at `timeout` seconds between its parts.

    Past either it looks like a client that went away: the app stops reading and never acts on part of a body,
    and whoever wrapped it answers 413 or 408 instead of whatever the app answers. Once the body is whole the
    timeout no longer applies: `receive` then waits for a disconnect during a streamed response.
    """

    def __init__(self, receive: Receive, max_bytes: int, timeout: float | None = None) -> None:
        self._receive = receive
        self._max_bytes = max_bytes
        self._timeout = timeout
        self._received = 0
        self._body_done = False
        self.too_large = False
        self.too_slow = False

    async def __call__(self) -> Message:
        if self._body_done or self._timeout is None:
            message = await self._receive()
        else:
            try:
                async with asyncio.timeout(self._timeout):
                    message = await self._receive()
            except TimeoutError:
                self.too_slow = True
                return {"type": "http.disconnect"}
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            self._body_done = not message.get("more_body", False)
            if self._received > self._max_bytes:
                self.too_large = True
                return {"type": "http.disconnect"}
        return message

    def refusal(self) -> tuple[bytes, int] | None:
        """The error body and status to answer instead of the app's, if the body was refused."""
        if self.too_large:
            return too_large_body(self._max_bytes), 413
        if self.too_slow:
            return too_slow_body(self._timeout or 0), 408
        return None


class BodyLimit:
    """Refuses bodies over `max_bytes` with 413, and bodies that stall longer than `timeout` with 408."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declared_over(scope, self.max_bytes):
            await _answer(send, too_large_body(self.max_bytes), 413)
            return
        limited = LimitedReceive(receive, self.max_bytes, self.timeout)

        async def guarded_send(message: Message) -> None:
            if limited.refusal() is None:
                await send(message)

        try:
            await self.app(scope, limited, guarded_send)
        except Exception:
            if limited.refusal() is None:
                raise
        refusal = limited.refusal()
        if refusal is not None:
            await _answer(send, *refusal)


async def _answer(send: Send, body: bytes, status: int) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def has_nul(scope: Scope) -> bool:
    """A NUL character in the path or the query, escaped or not: no id, name or filter holds one, and PostgreSQL
    refuses to compare text with it."""
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in query


class RefuseNul:
    """Answers 400 to a request whose path or query holds a NUL character, before any route reads it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and has_nul(scope):
            await _answer(send, error_body("invalid_value", "The path or query holds a NUL character."), 400)
            return
        await self.app(scope, receive, send)
