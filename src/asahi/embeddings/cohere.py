"""Cohere embeddings (embed-english-v3.0, 1024-d) through the official async SDK.

Prompts are embedded with input_type "search_query": a cache compares a new question with earlier questions,
which is the query side of Cohere's asymmetric model. Vectors are L2-normalised here so that inner product is
cosine whatever the model returns. Any SDK or HTTP failure becomes EmbeddingError: tier 2 skips the request.
"""

from __future__ import annotations

import cohere
import httpx
import numpy as np

from asahi.embeddings.base import EmbeddingError, EmbeddingRefused, KeyRejected, Vectors, normalise

DEFAULT_MODEL = "embed-english-v3.0"
DIMENSIONS = {"embed-english-v3.0": 1024, "embed-multilingual-v3.0": 1024, "embed-english-light-v3.0": 384,
              "embed-multilingual-light-v3.0": 384}
MAX_TEXTS = 96  # Cohere's per-request limit


class CohereEmbedder:
    def __init__(
        self,
        api_key: str,
        *,
        model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        dimension: int | None = None,
        timeout: float = 10.0,
        max_retries: int = 1,
    ) -> None:
        self.name = f"cohere:{model}"
        self.model = model
        self.dimension = dimension or DIMENSIONS.get(model, 1024)
        self._http = httpx.AsyncClient(timeout=timeout)  # ours, so that aclose can close it
        self._client = cohere.AsyncClientV2(api_key=api_key, base_url=base_url, timeout=timeout,
                                            max_retries=max_retries, httpx_client=self._http)

    async def embed(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        rows: list[list[float]] = []
        for start in range(0, len(texts), MAX_TEXTS):
            chunk = texts[start : start + MAX_TEXTS]
            try:
                response = await self._client.embed(model=self.model, texts=chunk, input_type="search_query",
                                                    embedding_types=["float"], truncate="END")
            except cohere.core.ApiError as exc:
                if exc.status_code in (401, 403):
                    raise KeyRejected(f"Cohere rejected the key ({exc.status_code}: {_message(exc.body)})") from exc
                raise EmbeddingError(f"Cohere embed failed: {exc}") from exc
            except Exception as exc:  # the SDK raises many types (HTTP, timeouts, parsing)
                raise EmbeddingError(f"Cohere embed failed: {exc}") from exc
            floats = response.embeddings.float_
            if floats is None or len(floats) != len(chunk):
                raise EmbeddingError("Cohere returned no float embeddings for every text")
            rows.extend(floats)
        vectors = np.asarray(rows, dtype=np.float32)
        if vectors.shape[1] != self.dimension:
            raise EmbeddingError(f"Cohere returned {vectors.shape[1]}-d vectors, expected {self.dimension}")
        return normalise(vectors)

    async def aclose(self) -> None:
        await self._http.aclose()


def _message(body: object) -> str:
    """Cohere's error bodies are `{"message": ...}`; anything else is shown as it came, shortened."""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return str(body)[:200]


class CohereEmbeddings:
    """Cohere's embed API for `POST /v1/embeddings`: any Cohere model, the input type the caller asks for.

    Vectors come back as Cohere computed them; the usage is Cohere's billed input tokens.
    """

    def __init__(self, api_key: str, *, base_url: str | None = None, timeout: float = 30.0,
                 max_retries: int = 1) -> None:
        self._http = httpx.AsyncClient(timeout=timeout)
        self._client = cohere.AsyncClientV2(api_key=api_key, base_url=base_url, timeout=timeout,
                                            max_retries=max_retries, httpx_client=self._http)

    async def embed(self, texts: list[str], model: str, input_type: str) -> tuple[Vectors, int]:
        rows: list[list[float]] = []
        tokens = 0
        for start in range(0, len(texts), MAX_TEXTS):
            chunk = texts[start : start + MAX_TEXTS]
            try:
                response = await self._client.embed(model=model, texts=chunk, input_type=input_type,
                                                    embedding_types=["float"], truncate="END")
            except cohere.core.ApiError as exc:
                raise EmbeddingRefused("Cohere", exc.status_code or 502, _message(exc.body)) from exc
            except Exception as exc:  # the SDK raises many types (HTTP, timeouts, parsing)
                raise EmbeddingError(f"Cohere embed failed: {exc}") from exc
            floats = response.embeddings.float_
            if floats is None or len(floats) != len(chunk):
                raise EmbeddingError("Cohere returned no float embeddings for every text")
            rows.extend(floats)
            billed = response.meta.billed_units if response.meta is not None else None
            tokens += int(billed.input_tokens or 0) if billed is not None else 0
        return np.asarray(rows, dtype=np.float32), tokens

    async def aclose(self) -> None:
        await self._http.aclose()
