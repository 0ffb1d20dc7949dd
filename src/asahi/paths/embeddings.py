"""`POST /v1/embeddings`: admitted like any request, each input answered from tier 1 when this org embedded it
before with the same model and options, the rest embedded in one upstream call, and the saving in the ledger.

Embeddings are deterministic, so an exact cache is the cheapest win there is: entries are per input (a batch that
repeats half its texts pays for the other half only), scoped by org like every tier 1 entry. An entry holds the
input's token count beside its float32 vector, so a hit is priced as the call it saved.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from asahi.cache.keys import endpoint_key
from asahi.cache.tier1 import Tier1
from asahi.call import Call, Outcome
from asahi.domain import ChatRequest, Usage
from asahi.embeddings.base import EmbeddingError, EmbeddingRefused, Vectors
from asahi.embeddings.local import LocalEmbedder
from asahi.errors import AsahiError, BadRequest, ProviderError
from asahi.governance.keys import KeyRecord
from asahi.ledger.bill import Bill
from asahi.ledger.pricing import price
from asahi.ledger.worst_case import worst_case_tokens_usd
from asahi.pipeline import Pipeline
from asahi.providers.base import Account, Provider
from asahi.providers.openai.adapter import OpenAIProvider
from asahi.providers.openai.embeddings import Input, embed
from asahi.routing.endpoint_models import LOCAL_PROVIDER, EmbeddingModel
from asahi.routing.tokens import count_tokens

if TYPE_CHECKING:  # the Cohere SDK is imported only when Cohere is configured
    from asahi.embeddings.cohere import CohereEmbeddings

COHERE_INPUT_TYPES = frozenset({"search_document", "search_query", "classification", "clustering"})
_TOKENS = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    model: str
    inputs: list[Input]
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None
    input_type: str | None = None  # Cohere's; its models need one (default search_document)


@dataclass(slots=True)
class Embedded:
    vectors: Vectors
    input_tokens: int
    outcome: Outcome


class EmbeddingsPath:
    def __init__(
        self, pipeline: Pipeline, tier1: Tier1, models: dict[str, EmbeddingModel], providers: dict[str, Provider],
        cohere: CohereEmbeddings | None, local: Callable[[], LocalEmbedder],
    ) -> None:
        self._pipeline = pipeline
        self._tier1 = tier1
        self.models = models
        self._providers = providers
        self._cohere = cohere
        self._local = local

    async def run(self, request_id: str, key: KeyRecord, request: EmbeddingRequest, *, read: bool = True,
                  write: bool = True) -> Embedded:
        call = Call(request_id, "openai", key, ChatRequest(model=request.model, messages=[]))
        policy = await self._pipeline.admit(key)
        model = self.models.get(request.model)
        if model is None:
            raise AsahiError(404, "model_not_found", f"Embedding model {request.model!r} is not available. "
                             f"Available: {', '.join(sorted(self.models))}.", details={"param": "model"})
        if not policy.allows(model.name):
            raise AsahiError(403, "model_not_allowed", f"Model {model.name!r} is not allowed for this organisation.",
                             details={"param": "model"})
        self._check(request, model)
        keys = [endpoint_key(key.org_id, "embeddings", [model.name, request.dimensions, request.input_type, text])
                for text in request.inputs]
        found = await asyncio.gather(*(self._tier1.get_bytes(k) for k in keys)) if read else [None] * len(keys)
        missing = [i for i, entry in enumerate(found) if entry is None]
        vectors: list[np.ndarray | None] = [None] * len(keys)
        tokens = [0] * len(keys)
        for i, entry in enumerate(found):
            if entry is not None:
                tokens[i] = _TOKENS.unpack_from(entry)[0]
                vectors[i] = np.frombuffer(entry, dtype=np.float32, offset=_TOKENS.size)
        upstream_tokens, started = 0, time.perf_counter()
        hold = None
        if missing and model.info.priced and model.info.input_price:
            counted = sum(count_tokens(t, model.name) if isinstance(t, str) else len(t)
                          for t in (request.inputs[i] for i in missing))
            hold = await self._pipeline.hold(call, policy, worst_case_tokens_usd(model.info, counted, 0))
        if missing:
            try:
                fresh, upstream_tokens, each = await self._embed(
                    model, [request.inputs[i] for i in missing], request, await self._pipeline.account(key.org_id))
            except BaseException:
                self._pipeline.release(hold)
                raise
            for row, i in enumerate(missing):
                vectors[i], tokens[i] = fresh[row], each[row]
                if write:
                    await self._tier1.put_bytes(keys[i], _TOKENS.pack(each[row]) + fresh[row].tobytes())
        upstream = time.perf_counter() - started if missing else 0.0
        saved_tokens = sum(tokens[i] for i in range(len(keys)) if found[i] is not None)
        baseline = price(model.info, Usage(input_tokens=upstream_tokens + saved_tokens))
        cost = price(model.info, Usage(input_tokens=upstream_tokens))
        saved = price(model.info, Usage(input_tokens=saved_tokens))
        outcome = Outcome(
            request_id=request_id, model=model.name, provider=model.info.provider,
            cache="t1" if not missing else "miss", routing_reason=f"explicit: the caller named {model.name}",
            bill=Bill(cost, baseline, saved, "tier1" if saved_tokens else None),
        )
        usage = Usage(input_tokens=upstream_tokens + saved_tokens)
        self._pipeline.record(call, outcome, usage, status=200, upstream_seconds=upstream)
        await self._pipeline.settle(hold, cost.usd)
        stacked = np.vstack([v for v in vectors if v is not None]) if vectors else np.zeros((0, model.dimension))
        return Embedded(stacked.astype(np.float32), usage.input_tokens, outcome)

    @staticmethod
    def _check(request: EmbeddingRequest, model: EmbeddingModel) -> None:
        if request.dimensions is not None and not (model.shortenable and 0 < request.dimensions <= model.dimension):
            raise BadRequest(f"{model.name} gives {model.dimension}-d vectors and cannot shorten them to "
                             f"{request.dimensions}.", param="dimensions")
        tokenised = any(not isinstance(i, str) for i in request.inputs)
        if tokenised and model.info.provider in (LOCAL_PROVIDER, "cohere"):
            raise BadRequest(f"{model.name} takes text, not token arrays.", param="input")
        if request.input_type is not None and model.info.provider != "cohere":
            raise BadRequest(f"input_type is Cohere's; {model.name} does not take it.", param="input_type")
        if request.input_type is not None and request.input_type not in COHERE_INPUT_TYPES:
            raise BadRequest(f"input_type must be one of {', '.join(sorted(COHERE_INPUT_TYPES))}.",
                             param="input_type")

    async def _embed(
        self, model: EmbeddingModel, inputs: list[Input], request: EmbeddingRequest, account: Account
    ) -> tuple[Vectors, int, list[int]]:
        """(vectors, the tokens billed, each input's tokens) for the inputs no entry held."""
        provider = model.info.provider
        texts = [i for i in inputs if isinstance(i, str)]
        try:
            if provider == LOCAL_PROVIDER:
                local = self._local()
                each = local.count_tokens(texts)
                return await local.embed(texts), sum(each), each
            if provider == "cohere":
                assert self._cohere is not None
                vectors, billed = await self._cohere.embed(texts, model.name, request.input_type or "search_document")
                return vectors, billed, [count_tokens(t, model.name) for t in texts]
        except EmbeddingRefused as exc:
            status = exc.status if exc.status in (400, 422, 429) else 502
            raise ProviderError(status, "provider_error", f"Cohere: {exc.reason}", provider="cohere") from exc
        except EmbeddingError as exc:
            raise ProviderError(502, "provider_error", f"{provider} could not embed: {exc}",
                                provider=provider) from exc
        upstream = self._providers.get(provider)
        if not isinstance(upstream, OpenAIProvider):
            raise AsahiError(503, "provider_unavailable", f"{provider} is not configured for embeddings.")
        answer = await embed(upstream, inputs, model.name, dimensions=request.dimensions, user=request.user,
                             account=account.for_provider(upstream.name))
        each = [count_tokens(i, model.name) if isinstance(i, str) else len(i) for i in inputs]
        return answer.vectors, answer.input_tokens or sum(each), each
