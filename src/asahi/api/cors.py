"""CORS, so a dashboard deployed on another origin can call the API from a browser (`ASAHI_CORS_ORIGINS`).

The management routes get Starlette's CORSMiddleware. The inference routes are dispatched ahead of FastAPI's
middleware (api/hot_path.py), so their answers take the same headers from `Cors.response_headers`, without a
wrapped `send`. Preflights are never inference routes (those are POST and GET), so the middleware answers every
one of them, the inference paths' included.

Keys travel as `Authorization: Bearer`, never as cookies. Credentialed requests are allowed only from origins
listed by name: with `*` a browser must not send cookies or HTTP auth along.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Scope

# What a browser script may read from an answer: the saving and the cache outcome are the point of the playground.
EXPOSED_HEADERS = (
    "x-asahi-request-id", "x-asahi-cache", "x-asahi-model", "x-asahi-cost-usd", "x-asahi-saved-usd",
    "x-asahi-overhead-ms", "retry-after",
)
METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS")
PREFLIGHT_MAX_AGE = 600


@dataclass(frozen=True, slots=True)
class Cors:
    origins: frozenset[str]

    @classmethod
    def of(cls, origins: Sequence[str]) -> Cors | None:
        """None when no origin is configured: the API then sends no CORS header at all."""
        return cls(frozenset(origins)) if origins else None

    @property
    def any_origin(self) -> bool:
        return "*" in self.origins

    def middleware_options(self) -> dict[str, Any]:
        """Keyword arguments for Starlette's CORSMiddleware."""
        return {
            "allow_origins": sorted(self.origins),
            "allow_methods": METHODS,
            "allow_headers": ["*"],  # mirrors what is asked: the SDKs send headers of their own
            "allow_credentials": not self.any_origin,
            "expose_headers": EXPOSED_HEADERS,
            "max_age": PREFLIGHT_MAX_AGE,
        }

    def response_headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """The headers CORSMiddleware would add to an answer to this request (none without an allowed Origin)."""
        origin = next((value for name, value in scope["headers"] if name == b"origin"), None)
        if origin is None:
            return []
        exposed = (b"access-control-expose-headers", ", ".join(EXPOSED_HEADERS).encode())
        if self.any_origin:
            return [(b"access-control-allow-origin", b"*"), exposed]
        if origin.decode("latin-1") not in self.origins:
            return [(b"vary", b"Origin")]
        return [(b"access-control-allow-origin", origin), (b"access-control-allow-credentials", b"true"),
                exposed, (b"vary", b"Origin")]

    def add_to(self, app: FastAPI) -> None:
        app.add_middleware(CORSMiddleware, **self.middleware_options())
