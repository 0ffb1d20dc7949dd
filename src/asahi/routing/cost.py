"""Token and cost estimates made before a call, when the provider has not yet counted anything.

Routing and `cost_budget` need a figure up front; the ledger later bills the provider's own counts. A len/4
token estimate is close enough for English text and keeps this free of per-provider tokenizers.
"""

from __future__ import annotations

import json

from asahi.domain import ChatRequest, ChatResult, ImagePart
from asahi.routing.catalog import ModelInfo

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4  # role and separators each provider adds per message
IMAGE_TOKENS = 1000  # a detailed image costs about this much on both OpenAI and Anthropic
# Assumed answer length when the caller sets no max_tokens: a typical chat answer.
EXPECTED_OUTPUT_TOKENS = 256


def estimate_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def tokens_from_chars(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


def estimate_input_tokens(request: ChatRequest) -> int:
    total = 0
    for message in request.messages:
        total += MESSAGE_OVERHEAD_TOKENS + estimate_tokens(message.text)
        total += IMAGE_TOKENS * sum(isinstance(p, ImagePart) for p in message.content)
        total += sum(estimate_tokens(c.name) + estimate_tokens(c.arguments) for c in message.tool_calls)
    for tool in request.tools:
        total += estimate_tokens(tool.name) + estimate_tokens(tool.description or "")
        total += estimate_tokens(json.dumps(tool.parameters))
    return total


def expected_output_tokens(request: ChatRequest, model: ModelInfo) -> int:
    """The answer length we price: the caller's cap when lower than the typical answer, never above the model's."""
    cap = min(request.max_tokens or model.max_output_tokens, model.max_output_tokens)
    return min(cap, EXPECTED_OUTPUT_TOKENS) * max(1, request.n)


def estimate_cost(model: ModelInfo, input_tokens: int, output_tokens: int) -> float | None:
    """USD for one call, or None when the model has no known price."""
    if model.input_price is None or model.output_price is None:
        return None
    return (input_tokens * model.input_price + output_tokens * model.output_price) / 1e6


def estimate_output_tokens(result: ChatResult) -> int:
    """Tokens of an answer the provider never counted (a stream cut off before its usage event)."""
    return sum(
        estimate_tokens(c.message.text) + sum(estimate_tokens(t.arguments) for t in c.message.tool_calls)
        for c in result.choices
    )
