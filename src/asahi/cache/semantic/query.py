"""What must match exactly before tier 2 compares meaning, and which requests tier 2 leaves alone.

Two requests may share an answer only if everything but the wording of the last user message is identical: the
org, the model (or routing class), the system prompt, the tools, the response format and every earlier turn.
Those are hashed into a context key that the vector search uses as a filter, so a similar question asked under
another system prompt or in another conversation is never even a candidate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from asahi.domain import ChatRequest, Message

DEFAULT_MAX_PROMPT_CHARS = 8000


@dataclass(slots=True, frozen=True)
class Tier2Query:
    """A request tier 2 may serve: its context key and the text compared by meaning."""

    context_key: str
    text: str


def _message(message: Message) -> dict[str, Any]:
    return {
        "role": message.role,
        "text": message.text,
        "tool_calls": [[c.id, c.name, c.arguments] for c in message.tool_calls],
        "tool_call_id": message.tool_call_id,
        "name": message.name,
        "is_error": message.is_error,
    }


def context_key(org_id: str, request: ChatRequest, route: str | None = None) -> str:
    """SHA-256 over everything that must match exactly. `route` replaces the model name when the router, not
    the caller, picks the model (AUTOPILOT), so the same question is shared across the models of one class."""
    last_user = max((i for i, m in enumerate(request.messages) if m.role == "user"), default=len(request.messages))
    payload = {
        "org": org_id,
        "model": route or request.model,
        "context": [_message(m) for m in request.messages[:last_user]],
        "after": [_message(m) for m in request.messages[last_user + 1 :]],
        "tools": [[t.name, t.description, t.parameters] for t in request.tools],
        "tool_choice": [request.tool_choice.mode, request.tool_choice.name] if request.tool_choice else None,
        "response_format": request.response_format,
        "n": request.n,
        "stop": request.stop,
    }
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def tier2_query(
    org_id: str, request: ChatRequest, *, route: str | None = None, max_chars: int = DEFAULT_MAX_PROMPT_CHARS
) -> Tier2Query | None:
    """The tier 2 view of a request, or None when tier 2 must skip it: non-text content anywhere, no user
    message, an empty or over-long last user message, or more than one answer asked for."""
    if request.n != 1 or any(m.has_non_text for m in request.messages):
        return None
    if not any(m.role == "user" for m in request.messages):
        return None
    text = request.last_user_text().strip()
    if not text or len(text) > max_chars:
        return None
    return Tier2Query(context_key(org_id, request, route), text)
