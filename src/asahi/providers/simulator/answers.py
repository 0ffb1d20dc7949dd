"""What the simulator says: labelled prose, or JSON when the request asks for structured output.

Prose starts with the label and the model's name, then the start of the last user message, or, after tool
results, what each tool returned (so an agent's final answer shows the result its tool gave), then filler words
up to the planned length. Structured output is an instance of the requested schema (`json_schema`); for
`json_object` it is an instance of the JSON Schema the prompt itself carries, as instructor's JSON modes and
pydantic-ai's prompted output put one there, or else a labelled object. JSON answers keep the label inside their
free-text strings (see `instances`): a field of its own would break `additionalProperties: false`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from asahi.domain import ChatRequest
from asahi.providers.simulator.instances import instance

LABEL = "[asahi simulator]"
LABEL_TOKENS = 4
_FILLER = (
    "the", "answer", "depends", "on", "context", "and", "on", "what", "you", "measure", "first", "so", "start",
    "small", "check", "the", "result", "then", "adjust", "one", "variable", "at", "a", "time", "keep", "notes",
    "compare", "against", "a", "baseline", "and", "prefer", "the", "simpler", "option", "when", "two",
    "perform", "alike", "costs", "fall", "when", "repeated", "work", "is", "cached", "and", "routed", "well",
)
_RESULT_CHARS = 200
_VERDICTS = ("[[A]]", "[[B]]", "[[C]]")
_SCHEMA_SEARCH_TRIES = 20
_DECODER = json.JSONDecoder()


def prose(request: ChatRequest, model: str, seed: int, words: int, finished: bool) -> str:
    """`words` filler words after the opening; a full stop only when the answer was not cut short."""
    results = _tool_results(request)
    if results:
        opening = "; ".join(f"{name} returned {text[:_RESULT_CHARS]}" for name, text in results) + ". "
    else:
        topic = " ".join(request.last_user_text().split()[:8])
        opening = f"{topic}: " if topic else ""
    filler = " ".join(_FILLER[(seed + i * 7) % len(_FILLER)] for i in range(words))
    return f"{LABEL} ({model}) {opening}{filler}{'.' if finished else ''}{_verdict(request)}"


def _verdict(request: ChatRequest) -> str:
    """A prompt asking for a [[A]] / [[B]] / [[C]] verdict, as a judge model is asked to compare two answers, gets
    one: the simulator's answers are all the same filler, so it calls them even. Routing's online checks then
    run offline end to end (its labels say the cheap model lost nothing, which is true of the simulator)."""
    text = request.last_user_text()
    return " [[C]]" if all(v in text for v in _VERDICTS) else ""


def structured(request: ChatRequest, seed: int) -> str | None:
    """The JSON answer when the request asks for one, else None."""
    wanted = request.response_format or {}
    kind = wanted.get("type")
    if kind == "json_schema":
        schema = (wanted.get("json_schema") or {}).get("schema") or {}
        return orjson.dumps(instance(schema, seed, LABEL)).decode()
    if kind == "json_object":
        found = _schema_in_prompt(request)
        value = instance(found, seed, LABEL) if found is not None else {"asahi_simulator": True, "answer": LABEL}
        return orjson.dumps(value).decode()
    return None


def _tool_results(request: ChatRequest) -> list[tuple[str, str]]:
    """(tool name, result text) of the tool results since the last user message, oldest first."""
    names = {call.id: call.name for m in request.messages for call in m.tool_calls}
    results: list[tuple[str, str]] = []
    for message in reversed(request.messages):
        if message.role == "user":
            break
        if message.role == "tool":
            results.append((names.get(message.tool_call_id or "", "tool"), " ".join(message.text.split())))
    return results[::-1]


def _schema_in_prompt(request: ChatRequest) -> dict[str, Any] | None:
    """The first JSON Schema in the system prompt or the last user message, if one is there."""
    texts = [m.text for m in request.messages if m.role == "system"] + [request.last_user_text()]
    for text in texts:
        start, tries = text.find("{"), 0
        while start != -1 and tries < _SCHEMA_SEARCH_TRIES:
            tries += 1
            try:
                value, end = _DECODER.raw_decode(text, start)
            except ValueError:
                start = text.find("{", start + 1)
                continue
            if isinstance(value, dict) and (isinstance(value.get("properties"), dict) or "$defs" in value):
                return value
            start = text.find("{", end)
    return None
