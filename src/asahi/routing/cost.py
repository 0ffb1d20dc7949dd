"""Token and cost estimates made before a call, when the provider has not yet counted anything.

Routing, context checks and `cost_budget` need a figure up front; the ledger later bills the provider's own
counts. Prompt tokens are counted with a real BPE tokenizer (`tokens.py`: exact for OpenAI models, o200k_base for
the others), plus the chat format's own tokens: OpenAI's documented 3 per message, 1 per name and 3 that prime the
reply. Answer lengths the router predicts stay in characters / 4, the unit its model was trained in.
"""

from __future__ import annotations

import orjson

from asahi.domain import ChatRequest, ChatResult, ImagePart
from asahi.routing.catalog import ModelInfo
from asahi.routing.tokens import CHARS_PER_TOKEN, count_tokens

MESSAGE_OVERHEAD_TOKENS = 3  # the role and separators the chat format adds per message
NAME_TOKENS = 1
REPLY_PRIMING_TOKENS = 3  # every reply is primed with <|start|>assistant<|message|>
IMAGE_TOKENS = 1000  # a detailed image costs about this much on both OpenAI and Anthropic
# Assumed answer length when the caller sets no max_tokens: a typical chat answer.
EXPECTED_OUTPUT_TOKENS = 256


def tokens_from_chars(chars: int) -> int:
    """Characters / 4: the unit of the router's training data (answer lengths known only in characters)."""
    return -(-chars // CHARS_PER_TOKEN)


def estimate_input_tokens(request: ChatRequest, model: str | None = None) -> int:
    """The prompt's tokens as `model` (by default the request's own) counts them."""
    name = model or request.model
    total = REPLY_PRIMING_TOKENS
    for message in request.messages:
        total += MESSAGE_OVERHEAD_TOKENS + count_tokens(message.text, name)
        total += NAME_TOKENS if message.name else 0
        total += IMAGE_TOKENS * sum(isinstance(p, ImagePart) for p in message.content)
        total += sum(count_tokens(c.name, name) + count_tokens(c.arguments, name) for c in message.tool_calls)
    for tool in request.tools:
        total += count_tokens(tool.name, name) + count_tokens(tool.description or "", name)
        total += count_tokens(orjson.dumps(tool.parameters).decode(), name)
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
        count_tokens(c.message.text, result.model)
        + sum(count_tokens(t.arguments, result.model) for t in c.message.tool_calls)
        for c in result.choices
    )
