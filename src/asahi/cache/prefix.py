"""Tier 3: send long, repeated prompt prefixes so the provider's own prompt cache applies.

Anthropic caches only what a request marks: a `cache_control` breakpoint caches everything before it (tools,
system, messages) once that prefix reaches the model's minimum length, and a later request whose prefix matches
up to a breakpoint reads it at a tenth of the input price. Two breakpoints are placed: after the system prompt,
which is what many requests share, and after the conversation so far (everything before the newest user turn),
which the next turn of the same conversation repeats. A breakpoint costs a 25% premium on the tokens it writes
once and saves 90% on every read, so a prefix long enough to cache is worth marking.

OpenAI caches prompts of 1024 tokens or more automatically, but only on the server that saw the prefix before;
`prompt_cache_key` steers requests with the same key to the same servers. The key is a digest of the org and the
shared part of the prompt (tools and system prompt), so one org's requests built on the same prompt meet there,
different prompts spread out, and no org id goes to the provider. It is sent to OpenAI itself only:
OpenAI-compatible servers have no such field and some refuse fields they do not know.

The built-in simulator models both providers' prompt caches, so its models get what the model they stand in for
would get, by the family `asahi.providers.prompt_caching.model_family` reads from its name.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import orjson

from asahi.domain import ChatRequest, Message, TextPart
from asahi.providers.prompt_caching import OPENAI_MIN_TOKENS, anthropic_min_tokens, model_family
from asahi.routing.cost import estimate_input_tokens

ANTHROPIC_MAX_BREAKPOINTS = 4


class PrefixCaching:
    """Tier 3 for one request, link by link: what goes to each provider, and whether the provider's prompt cache
    will be Asahi's doing for the model that answered (breakpoints Asahi placed), which decides whether the
    saving it brings is credited to Asahi. OpenAI caches long prompts by itself: that saving is never credited."""

    def __init__(self, org_id: str, enabled: bool = True) -> None:
        self._org_id = org_id
        self._enabled = enabled
        self._marked: set[str] = set()  # models whose request got breakpoints from Asahi

    def prepare(self, request: ChatRequest, provider: str, model: str) -> ChatRequest:
        if not self._enabled:
            return request
        prepared = apply_prefix_caching(request, self._org_id, provider, model)
        if prepared is not request and model_family(provider, model) == "anthropic":
            self._marked.add(model)
        return prepared

    def credited(self, model: str) -> bool:
        return model in self._marked


def apply_prefix_caching(request: ChatRequest, org_id: str, provider: str, model: str | None = None) -> ChatRequest:
    """The request as it should go to `provider` so the provider's prompt cache applies.

    `model` is the upstream model the request goes to (the request's own model name when not given); it picks
    Anthropic's minimum prefix length and, for the simulator, whose cache it models. The caller's request is
    never changed: a changed copy is returned.
    """
    upstream = model or request.model
    family = model_family(provider, upstream)
    if family == "anthropic":
        return _mark_breakpoints(request, upstream)
    # The key goes to OpenAI's own API and to the simulator, never to OpenAI-compatible servers.
    if (family == "openai" and request.prompt_cache_key is None
            and estimate_input_tokens(request) >= OPENAI_MIN_TOKENS):
        return replace(request, prompt_cache_key=prompt_cache_key(request, org_id))
    return request


def _mark_breakpoints(request: ChatRequest, model: str) -> ChatRequest:
    """Mark the end of the system prompt and of the conversation so far, where each is long enough.

    Breakpoints the caller placed stay where they are and count against Anthropic's limit of four.
    """
    messages = list(request.messages)
    budget = ANTHROPIC_MAX_BREAKPOINTS - sum(
        isinstance(p, TextPart) and p.cache_control for m in messages for p in m.content
    )
    minimum = anthropic_min_tokens(model)
    # Anthropic sends every system message first, wherever it stands; the conversation follows in order.
    system = [i for i, m in enumerate(messages) if m.role == "system"]
    order = system + [i for i, m in enumerate(messages) if m.role != "system"]
    ends = dict.fromkeys([len(system), _history_length([messages[i] for i in order])])  # equal without history
    changed = False
    for length in ends:
        prefix = order[:length]
        if budget == 0 or not prefix or _tokens(request, [messages[i] for i in prefix]) < minimum:
            continue
        found = _last_text(messages, prefix)
        if found is None:
            continue
        index, part = found
        content = list(messages[index].content)
        text = content[part]
        assert isinstance(text, TextPart)
        if text.cache_control:
            continue
        content[part] = replace(text, cache_control=True)
        messages[index] = replace(messages[index], content=content)
        budget -= 1
        changed = True
    return replace(request, messages=messages) if changed else request


def _history_length(ordered: list[Message]) -> int:
    """How many leading messages come before the newest user turn (its user and tool messages)."""
    length = len(ordered)
    while length and ordered[length - 1].role in ("user", "tool"):
        length -= 1
    return length


def _tokens(request: ChatRequest, messages: list[Message]) -> int:
    """Estimated tokens of a prefix, the tool definitions (which Anthropic caches first) included."""
    return estimate_input_tokens(replace(request, messages=messages))


def _last_text(messages: list[Message], prefix: list[int]) -> tuple[int, int] | None:
    """(message index, part index) of the prefix's last non-empty text part, the one block a marker fits on.

    Empty text is skipped because the upstream translation drops empty blocks, marker and all.
    """
    for index in reversed(prefix):
        content = messages[index].content
        for part in range(len(content) - 1, -1, -1):
            candidate = content[part]
            if isinstance(candidate, TextPart) and candidate.text:
                return index, part
    return None


def prompt_cache_key(request: ChatRequest, org_id: str) -> str:
    """A stable key for the org and the part of the prompt its requests share.

    That is the tools and system prompt; only when there are neither does the first turn stand in (a long
    document opening a conversation), since keying on a varying question would spread requests for nothing.
    """
    tools = [[t.name, t.description, t.parameters] for t in request.tools]
    system = [m.text for m in request.messages if m.role == "system"]
    first = next((m for m in request.messages if m.role != "system"), None)
    opening = [first.role, first.text] if first is not None and not tools and not system else None
    shared: list[Any] = [org_id, tools, system, opening]
    digest = hashlib.sha256(orjson.dumps(shared, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"asahi-{digest[:32]}"
