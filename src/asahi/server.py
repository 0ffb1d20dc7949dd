"""Running the app under uvicorn with the fast event loop and HTTP parser.

uvicorn bounds idle keep-alive connections but not a client that opens a connection and sends its request
headers slowly, or never finishes them: each such connection would stay open indefinitely. `GuardedProtocol`
closes a connection whose headers are not complete `header_timeout` seconds after it opened or after its request
began. (Slow bodies are bounded in the app, `api/middleware.py`, with a 408.)

Where it listens follows the hosting platforms' conventions: `PORT` and `HOST` from the environment (flags win),
and 0.0.0.0 by default inside a container, where 127.0.0.1 would be unreachable from outside, else 127.0.0.1.
`--workers N` (or `WEB_CONCURRENCY`) runs N processes on one socket; each is a whole gateway with its own
in-process caches, so more than one is meant to run with Redis (tier 1, rate limits and revocations shared).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from threadpoolctl import threadpool_limits
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from asahi.app import create_app
from asahi.observability.logging import configure as configure_logging
from asahi.settings import Settings, SettingsError, load_settings

SWITCH_INTERVAL = 0.001  # seconds; CPython's default is 0.005
DEFAULT_PORT = 8000
# Files container runtimes create (Docker, Podman); ASAHI_IN_CONTAINER=1 is set by the project's own image.
CONTAINER_MARKERS = (Path("/.dockerenv"), Path("/run/.containerenv"))


def in_container(environ: Mapping[str, str] | None = None) -> bool:
    """`ASAHI_IN_CONTAINER` when it is set, else whether a container runtime left its marker file."""
    env = os.environ if environ is None else environ
    flag = env.get("ASAHI_IN_CONTAINER", "").lower()
    if flag in ("1", "true", "yes"):
        return True
    if flag in ("0", "false", "no"):
        return False
    return any(marker.exists() for marker in CONTAINER_MARKERS)


def _whole(name: str, raw: str, low: int, high: int) -> int:
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, not '{raw}'")
    return int(raw)


def listen_address(host: str | None, port: int | None,
                   environ: Mapping[str, str] | None = None) -> tuple[str, int]:
    """The address to bind: a flag if given, else `HOST` / `PORT`, else the defaults for where this runs."""
    env = os.environ if environ is None else environ
    if host is None:
        host = env.get("HOST") or ("0.0.0.0" if in_container(env) else "127.0.0.1")
    if port is None:
        port = _whole("PORT", raw, 1, 65535) if (raw := env.get("PORT")) else DEFAULT_PORT
    return host, port


def worker_count(workers: int | None, environ: Mapping[str, str] | None = None) -> int:
    """`--workers`, else `WEB_CONCURRENCY` (the platforms' name for it), else one process."""
    env = os.environ if environ is None else environ
    if workers is not None:
        return _whole("--workers", str(workers), 1, 64)
    raw = env.get("WEB_CONCURRENCY")
    return _whole("WEB_CONCURRENCY", raw, 1, 64) if raw else 1


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


def single_threaded_math() -> None:
    """numpy's BLAS and faiss's OpenMP start a thread per core for each product over a few thousand tier 2
    vectors, and those threads spin on the cores the event loop needs: 5–7 ms of CPU a request once tier 2 is
    that full, gone with one thread each (docs/benchmarks.md). A gateway process serves many requests at once;
    more cores are used by more workers, not by these pools."""
    os.environ["OMP_NUM_THREADS"] = "1"  # faiss loads later, with the first large tier 2 group, and reads it then
    threadpool_limits(limits=1)  # the libraries already loaded (numpy's BLAS)


def worker_app() -> FastAPI:
    """The app of one worker process, built in that process from the same environment as the parent's.

    uvicorn starts workers by spawning fresh interpreters and can hand them only what pickles: an import path for
    the app and a protocol class importable by name, so the header timeout is set on that class here, once per
    process.
    """
    settings = load_settings()
    configure_logging(settings.log_level)
    sys.setswitchinterval(SWITCH_INTERVAL)
    single_threaded_math()
    GuardedProtocol.header_timeout = settings.config.server.header_timeout_seconds
    return create_app(settings)


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    # Work moved off the loop (large bodies, the embedder, ledger fsyncs) runs in threads that share the
    # interpreter lock; a shorter switch interval hands it back to the loop sooner (measured in docs/reliability.md).
    sys.setswitchinterval(SWITCH_INTERVAL)
    single_threaded_math()
    if workers > 1:
        uvicorn.run("asahi.server:worker_app", factory=True, workers=workers, http="asahi.server:GuardedProtocol",
                    host=host, port=port, loop="uvloop", log_config=None, access_log=False,
                    timeout_graceful_shutdown=10)
        return
    uvicorn.run(
        create_app(settings), host=host, port=port, loop="uvloop",
        http=guarded_protocol(settings.config.server.header_timeout_seconds),
        log_config=None, access_log=False, timeout_graceful_shutdown=10,
    )
