"""What must match exactly before tier 2 compares meaning, and which requests tier 2 leaves alone.

Two requests may share an answer only if everything but the wording of the last user message is identical: the
org, the model (or routing class), the system prompt, the tools, the response format and every earlier turn.
Those are hashed into a context key that the vector search uses as a filter, so a similar question asked under
another system prompt or in another conversation is never even a candidate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import orjson

from asahi.domain import ChatRequest

DEFAULT_MAX_PROMPT_CHARS = 8000


@dataclass(slots=True, frozen=True)
class Tier2Query:
    """A request tier 2 may serve: its context key and the text compared by meaning."""

    context_key: str
    text: str


def context_key(org_id: str, request: ChatRequest, route: str | None = None) -> str:
    """SHA-256 over everything that must match exactly. `route` replaces the model name when the router, not
    the caller, picks the model (AUTOPILOT), so the same question is shared across the models of one class.

    The request is serialised whole, but for the last user message (compared by meaning instead), the fields that
    cannot change the answer, and the sampling knobs an answer within the temperature cap is served across; a
    field added to the request type is part of the key without anyone remembering to add it."""
    last_user = max((i for i, m in enumerate(request.messages) if m.role == "user"), default=len(request.messages))
    shape = replace(
        request, model=route or request.model, messages=[], stream=False, include_usage=False, user=None,
        prompt_cache_key=None, temperature=None, top_p=None, max_tokens=None, seed=None,
    )
    payload = [org_id, request.messages[:last_user], request.messages[last_user + 1 :], shape]
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
