"""A fake SendGrid v3 Mail Send endpoint, faithful enough that the official SDK cannot tell the difference.

It checks the `Authorization: Bearer` header, validates the request body with the rules SendGrid applies
(personalizations, from, subject, content order), answers 202 with an empty body and an `X-Message-Id` like
SendGrid, and refuses with SendGrid's error shape `{"errors": [{"message", "field", "help"}]}`. Tests can
script the next answers (401, 400, 429, 500, ...) with `fail_next`.

Runs with uvicorn in a background thread on 127.0.0.1, on a socket bound to a free port before start-up.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import deque
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"
_CANNED: dict[int, tuple[str, str | None]] = {
    400: ("Bad Request", None),
    401: ("The provided authorization grant is invalid, expired, or revoked", None),
    403: ("The from address does not match a verified Sender Identity.", "from"),
    413: ("The JSON payload you have included in your request is too large.", None),
    429: ("too many requests", None),
    500: ("Internal Server Error", None),
    503: ("Service Unavailable", None),
}


def error_body(message: str, field: str | None = None, help_anchor: str | None = None) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": field,
                        "help": f"{_HELP}#{help_anchor}" if help_anchor else None}]}


# SendGrid's wording for the 400s this fake can produce: rule -> (message, help anchor).
_RULES: dict[str, tuple[str, str]] = {
    "personalizations": ("The personalizations field is required and must have at least one "
                         "personalization.", "-Personalizations-Errors"),
    "to": ("The to array is required for all personalization objects, and must have at least one email "
           "object with a valid email address.", "message.personalizations.to"),
    "to.email": ("Does not contain a valid address.", "message.personalizations"),
    "from": ("The from object must be provided for every email send. It is an object that requires an "
             "email parameter, but may also contain a name parameter.", "message.from"),
    "from.email": ("The from email does not contain a valid address.", "message.from"),
    "subject": ("The subject is required. You can get around this requirement if you use a template with a "
                "subject defined or if every personalization has a subject defined.", "message.subject"),
    "content": ("Unless a valid template_id is provided, the content parameter is required. There must be "
                "at least one defined content block.", "message.content"),
    "content.value": ("The content value must be a string at least one character in length.",
                      "message.content.value"),
    "content.order": ("If present, text/plain must be first, followed by text/html, followed by any other "
                      "content.", "message.content.type"),
}


def _broken(rule: str, field: str) -> dict[str, Any]:
    message, anchor = _RULES[rule]
    return error_body(message, field, anchor)


def _valid_address(value: Any) -> bool:
    return isinstance(value, str) and value.count("@") == 1 and "." in value.rpartition("@")[2]


def validate_mail(body: Any) -> dict[str, Any] | None:
    """Return SendGrid's 400 body for the first rule `body` breaks, or None when it would be accepted."""
    if not isinstance(body, dict):
        return error_body("Bad Request")
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return _broken("personalizations", "personalizations")
    for i, p in enumerate(personalizations):
        to = p.get("to") if isinstance(p, dict) else None
        if not isinstance(to, list) or not to or not all(isinstance(t, dict) for t in to):
            return _broken("to", f"personalizations.{i}.to")
        for j, t in enumerate(to):
            if not _valid_address(t.get("email")):
                return _broken("to.email", f"personalizations.{i}.to.{j}.email")
    sender = body.get("from")
    if not isinstance(sender, dict) or "email" not in sender:
        return _broken("from", "from")
    if not _valid_address(sender["email"]):
        return _broken("from.email", "from.email")
    if not body.get("subject") and not all(isinstance(p, dict) and p.get("subject")
                                           for p in personalizations):
        return _broken("subject", "subject")
    content = body.get("content")
    if not isinstance(content, list) or not content:
        return _broken("content", "content")
    types = []
    for i, block in enumerate(content):
        if not isinstance(block, dict) or not block.get("type") or not block.get("value"):
            return _broken("content.value", f"content.{i}.value")
        types.append(block["type"])
    plain_first = "text/plain" not in types or types[0] == "text/plain"
    html_next = "text/html" not in types or types.index("text/html") == int("text/plain" in types)
    if not (plain_first and html_next):
        return _broken("content.order", "content")
    return None


class FakeSendGrid:
    """`with FakeSendGrid(api_key) as fake:` point the SDK's host at `fake.base_url`; read `fake.messages`."""

    def __init__(self, api_key: str = "SG.fake-key") -> None:
        self.api_key = api_key
        self.messages: list[dict[str, Any]] = []  # accepted Mail Send bodies, in order
        self.requests = 0  # every request that reached the endpoint, accepted or not
        self._script: deque[int] = deque()
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        app = Starlette(routes=[Route("/v3/mail/send", self._send, methods=["POST"])])
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        daemon=True)

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next `times` requests with `status` and SendGrid's error body for it."""
        with self._lock:
            self._script.extend([status] * times)

    async def _send(self, request: Request) -> Response:
        with self._lock:
            self.requests += 1
            scripted = self._script.popleft() if self._script else None
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse(error_body(_CANNED[401][0]), status_code=401)
        if scripted is not None:
            message, field = _CANNED.get(scripted, ("Scripted failure", None))
            return JSONResponse(error_body(message, field), status_code=scripted)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse(error_body("Bad Request"), status_code=400)
        problem = validate_mail(body)
        if problem is not None:
            return JSONResponse(problem, status_code=400)
        with self._lock:
            self.messages.append(body)
        return Response(status_code=202, headers={"X-Message-Id": uuid.uuid4().hex[:22]})

    def start(self) -> FakeSendGrid:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake SendGrid server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeSendGrid:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
