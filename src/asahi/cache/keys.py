"""The tier 1 cache key: an MD5 over everything that shapes the answer, scoped by org.

The key covers the org, the resolved model (or routing mode), every message including system, tools,
tool_choice, response_format and every sampling parameter. It never covers the API key, so every key of an org
shares the org's cache, and no org can ever read another's entry. MD5 is what the guide's key format names; it
is used for addressing, not security (the org scope is outside the digest).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from asahi.domain import ChatRequest, ImagePart, Message, TextPart

# Bump when the answer encoding changes, so old entries are never decoded as new ones.
KEY_VERSION = 1


def _message(message: Message) -> list[Any]:
    return [
        message.role,
        [
            ["t", p.text] if isinstance(p, TextPart) else ["i", p.url, p.data, p.media_type]
            for p in message.content
            if isinstance(p, TextPart | ImagePart)
        ],
        [[c.id, c.name, c.arguments] for c in message.tool_calls],
        message.tool_call_id,
        message.name,
        message.is_error,
    ]


def request_fingerprint(request: ChatRequest, model_or_mode: str) -> str:
    tool_choice = request.tool_choice
    shape = [
        KEY_VERSION,
        model_or_mode,
        [_message(m) for m in request.messages],
        [[t.name, t.description, t.parameters] for t in request.tools],
        None if tool_choice is None else [tool_choice.mode, tool_choice.name],
        request.response_format,
        request.temperature,
        request.top_p,
        request.max_tokens,
        request.n,
        request.stop,
        request.seed,
        request.parallel_tool_calls,
    ]
    return hashlib.md5(orjson.dumps(shape, option=orjson.OPT_SORT_KEYS), usedforsecurity=False).hexdigest()


def tier1_key(org_id: str, fingerprint: str) -> str:
    return f"asahi:t1:{org_id}:{fingerprint}"
