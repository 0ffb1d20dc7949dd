"""Running the app under uvicorn with the fast event loop and HTTP parser.

uvicorn bounds idle keep-alive connections but not a client that opens a connection and sends its request
headers slowly, or never finishes them: each such connection would stay open indefinitely. `GuardedProtocol`
closes a connection whose headers are not complete `header_timeout` seconds after it opened or after its request
began. (Slow bodies are bounded in the app, `api/middleware.py`, with a 408.)
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from asahi.app import create_app
from asahi.settings import Settings

SWITCH_INTERVAL = 0.001  # seconds; CPython's default is 0.005


class GuardedProtocol(HttpToolsProtocol):
    header_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = self.loop.call_later(self.header_timeout, self._too_slow)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(header_timeout: float) -> type[GuardedProtocol]:
    return type("GuardedProtocol", (GuardedProtocol,), {"header_timeout": header_timeout})


def serve(settings: Settings, host: str, port: int) -> None:
    # Work moved off the loop (large bodies, the embedder, ledger fsyncs) runs in threads that share the
    # interpreter lock; a shorter switch interval hands it back to the loop sooner (measured in docs/reliability.md).
    sys.setswitchinterval(SWITCH_INTERVAL)
    uvicorn.run(
        create_app(settings), host=host, port=port, loop="uvloop",
        http=guarded_protocol(settings.config.server.header_timeout_seconds),
        log_config=None, access_log=False, timeout_graceful_shutdown=10,
    )
