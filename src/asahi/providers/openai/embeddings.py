"""OpenAI's embeddings API as a client (OpenAI and any compatible server): the body sent and the answer read.

Vectors are always asked for as floats: a server that cannot encode base64 still answers, and Asahi encodes for
the client itself. The usage is the batch's total, as OpenAI reports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from asahi.embeddings.base import Vectors
from asahi.providers.base import Account
from asahi.providers.openai.adapter import OpenAIProvider
from asahi.providers.upstream_errors import invalid_response

Input = str | list[int]


@dataclass(frozen=True, slots=True)
class EmbeddingAnswer:
    vectors: Vectors  # one row per input, as the provider returned it (not re-normalised)
    input_tokens: int


async def embed(
    provider: OpenAIProvider, inputs: list[Input], model: str, *, dimensions: int | None, user: str | None,
    account: Account | None = None,
) -> EmbeddingAnswer:
    body: dict[str, Any] = {"model": model, "input": inputs, "encoding_format": "float"}
    if dimensions is not None:
        body["dimensions"] = dimensions
    if user is not None:
        body["user"] = user
    answer = await provider.call_json("/embeddings", body, account)
    data = answer.get("data")
    if not isinstance(data, list) or len(data) != len(inputs):
        raise invalid_response(provider.name, f"embeddings: expected {len(inputs)} vectors")
    rows = sorted(data, key=lambda item: int(item.get("index", 0)))
    try:
        vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
    except (KeyError, TypeError, ValueError) as err:
        raise invalid_response(provider.name, f"embeddings: {type(err).__name__}: {err}") from err
    usage = answer.get("usage") or {}
    return EmbeddingAnswer(vectors, int(usage.get("prompt_tokens") or 0))
