"""API keys: generated with high entropy, shown once, stored as a SHA-256 digest behind a public prefix.

A key looks like `asahi_<prefix>_<secret>`. The prefix finds the row; the digest of the whole key is compared
in constant time. SHA-256 (not bcrypt) is right here: the secret is 256 random bits, so there is nothing to
brute-force, and the check stays in microseconds on the request path.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from asahi.governance.budgets.spec import Budget

SCOPES = frozenset({"infer", "analytics", "admin"})
_PREFIX_BYTES = 6


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    org_id: str
    name: str
    prefix: str
    scopes: frozenset[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    # A virtual key's own limits, applied on top of its org's policy (the stricter of the two wins).
    allowed_models: tuple[str, ...] | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    budgets: tuple[Budget, ...] = ()

    def has_scope(self, scope: str) -> bool:
        # admin implies every other scope within its own org
        return scope in self.scopes or "admin" in self.scopes


@dataclass(frozen=True, slots=True)
class NewKey:
    plaintext: str
    prefix: str
    digest: str


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate() -> NewKey:
    prefix = secrets.token_hex(_PREFIX_BYTES)
    plaintext = f"asahi_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(plaintext=plaintext, prefix=prefix, digest=digest(plaintext))


def parse_prefix(key: str) -> str | None:
    """The public prefix of a well-formed key, or None for anything else."""
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != "asahi" or len(parts[1]) != 2 * _PREFIX_BYTES:
        return None
    return parts[1]


def matches(key_digest: str, stored_digest: str) -> bool:
    return hmac.compare_digest(key_digest, stored_digest)


def parse_scopes(raw: list[str] | str) -> frozenset[str]:
    items = raw.split(",") if isinstance(raw, str) else raw
    scopes = frozenset(s.strip() for s in items if s.strip())
    if not scopes:
        raise ValueError("at least one scope is required")
    if unknown := scopes - SCOPES:
        raise ValueError(f"unknown scopes {sorted(unknown)}; allowed: {sorted(SCOPES)}")
    return scopes
