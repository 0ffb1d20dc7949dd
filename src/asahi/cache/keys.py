"""The tier 1 cache key: an MD5 over everything that shapes the answer, scoped by org.

The key covers the org, the resolved model (or routing mode), every message including system, tools,
tool_choice, response_format, every sampling parameter and every provider-native field the client sent. It never
covers the API key, so every key of an org shares the org's cache, and no org can ever read another's entry. MD5 is
what the guide's key format names; it is used for addressing, not security (the org scope is outside the digest).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import orjson

from asahi.domain import ChatRequest

# Bump when the answer encoding changes, so old entries are never decoded as new ones.
KEY_VERSION = 2


def request_fingerprint(request: ChatRequest, model_or_mode: str) -> str:
    """Every field of the request but those that cannot change the answer (streaming, the end-user id, a prompt
    cache routing key), serialised whole: a field added to the request type is part of the key without anyone
    remembering to add it, so two requests that differ in anything that shapes the answer never share an entry."""
    shape = replace(request, model=model_or_mode, stream=False, include_usage=False, prompt_cache_key=None,
                    user=None)
    return hashlib.md5(orjson.dumps([KEY_VERSION, shape], option=orjson.OPT_SORT_KEYS),
                       usedforsecurity=False).hexdigest()


def tier1_key(org_id: str, fingerprint: str) -> str:
    return f"asahi:t1:{org_id}:{fingerprint}"


def endpoint_key(org_id: str, endpoint: str, shape: object) -> str:
    """A tier 1 key for an endpoint beside chat: `shape` is every field that shapes its answer, as JSON."""
    digest = hashlib.md5(orjson.dumps([KEY_VERSION, endpoint, shape], option=orjson.OPT_SORT_KEYS),
                         usedforsecurity=False).hexdigest()
    return tier1_key(org_id, digest)
