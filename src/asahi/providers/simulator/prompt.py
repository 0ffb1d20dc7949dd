"""The prompt as the simulated model reads it: blocks of text, each with its token count.

Usage and prompt caching count over this one reading, so the cached tokens a response reports always fall within
the input tokens it reports. A token is four characters (the usual rule of thumb for English text), a message's
role markup costs four tokens and an image a thousand (about what both providers charge for a detailed one).
Blocks come in the order the provider puts them before the model: tool definitions and the answer's schema
first, then the messages; Anthropic also moves every system message to the front, where its `system` field goes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from asahi.domain import ChatRequest, ImagePart, Message, TextPart

CHARS_PER_TOKEN = 4
MESSAGE_TOKENS = 4
IMAGE_TOKENS = 1000
PRIMING_TOKENS = 3  # the opening of the answer's own turn


@dataclass(frozen=True, slots=True)
class Block:
    text: str  # what the model reads; a block's text starting a message begins with a separator
    tokens: int
    content: bool = True  # a content block (a cache position for Anthropic); False for role markup
    breakpoint: bool = False  # Anthropic `cache_control` on this block
    atomic: bool = False  # read whole or not at all (markup, images): no prefix of it is a prefix of the prompt


def count_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def read_prompt(request: ChatRequest, *, system_first: bool = False) -> list[Block]:
    blocks = []
    for tool in request.tools:
        blocks.append(_spec("tool", [tool.name, tool.description, tool.parameters]))
    if (request.response_format or {}).get("type") == "json_schema":
        blocks.append(_spec("format", request.response_format))
    messages = request.messages
    if system_first:
        messages = [m for m in messages if m.role == "system"] + [m for m in messages if m.role != "system"]
    for message in messages:
        blocks.extend(_message(message))
    return blocks


def input_tokens(blocks: list[Block]) -> int:
    return sum(b.tokens for b in blocks) + PRIMING_TOKENS


def _spec(kind: str, value: object) -> Block:
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return Block(f"\x1e{kind}\x1f{text}", count_tokens(text))


def _message(message: Message) -> list[Block]:
    markup = f"\x1e{message.role}\x1f{message.name or ''}\x1f{message.tool_call_id or ''}\x1f{message.is_error:d}"
    blocks = [Block(markup, MESSAGE_TOKENS, content=False, atomic=True)]
    for part in message.content:
        if isinstance(part, TextPart):
            blocks.append(Block(part.text, count_tokens(part.text), breakpoint=part.cache_control))
        elif isinstance(part, ImagePart):
            source = part.url or hashlib.sha256((part.data or "").encode()).hexdigest()
            blocks.append(Block(f"\x1eimage\x1f{source}", IMAGE_TOKENS, atomic=True))
    for call in message.tool_calls:
        blocks.append(Block(f"\x1ecall\x1f{call.id}\x1f{call.name}\x1f{call.arguments}",
                            count_tokens(call.name) + count_tokens(call.arguments)))
    return blocks
