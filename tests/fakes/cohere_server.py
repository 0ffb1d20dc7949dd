"""A fake Cohere API: `POST /v2/embed` as Cohere's v2 wire protocol defines it, with Cohere's error bodies.

Embeddings are deterministic hashed bags of words (so texts sharing words are close), deliberately not unit
length so that clients must normalise. `fail_next(status)` scripts errors; every request is recorded.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import deque
from typing import Any

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.server import FakeServer, Recorded

DIMENSIONS = {"embed-english-v3.0": 1024, "embed-multilingual-v3.0": 1024, "embed-english-light-v3.0": 384}
INPUT_TYPES = {"search_document", "search_query", "classification", "clustering", "image"}
EMBEDDING_TYPES = {"float", "int8", "uint8", "binary", "ubinary", "base64"}


def fake_vector(text: str, dimension: int) -> list[float]:
    vector = np.zeros(dimension, dtype=np.float64)
    for word in re.findall(r"\w+", text.lower()):
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        vector += np.random.default_rng(seed).standard_normal(dimension)
    if not vector.any():
        vector[0] = 1.0
    return [float(x) for x in 3.0 * vector / np.linalg.norm(vector)]


class FakeCohere(FakeServer):
    path = "/v2/embed"

    def __init__(self) -> None:
        super().__init__()
        self._failures: deque[int] = deque()

    @property
    def base_url(self) -> str:
        return self.url

    def fail_next(self, *statuses: int) -> None:
        self._failures.extend(statuses)

    @staticmethod
    def _error(status: int, message: str) -> Response:
        return Response(orjson.dumps({"id": str(uuid.uuid4()), "message": message}), status,
                        media_type="application/json")

    async def _embed(self, request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return self._error(400, "invalid request: body is not valid JSON")
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(401, "invalid api token")
        if self._failures:
            status = self._failures.popleft()
            return self._error(status, "You are using a Trial key, which is limited to 40 API calls / minute."
                               if status == 429 else "internal server error")
        return self._answer(body)

    def _answer(self, body: Any) -> Response:
        model, texts = body.get("model"), body.get("texts")
        if model not in DIMENSIONS:
            return self._error(404, f"model '{model}' not found, make sure the correct model ID was used")
        if body.get("input_type") not in INPUT_TYPES:
            return self._error(400, "invalid request: input_type must be one of " + ", ".join(sorted(INPUT_TYPES)))
        if not isinstance(texts, list) or not 0 < len(texts) <= 96:
            return self._error(400, "invalid request: texts must be a list of 1 to 96 strings")
        types = body.get("embedding_types") or ["float"]
        if not set(types) <= EMBEDDING_TYPES:
            return self._error(400, "invalid request: unknown embedding type")
        vectors = [fake_vector(t, DIMENSIONS[model]) for t in texts]
        embeddings: dict[str, Any] = {}
        for kind in types:
            if kind == "float":
                embeddings["float"] = vectors
            elif kind == "int8":
                embeddings["int8"] = [[int(np.clip(round(x * 40), -128, 127)) for x in v] for v in vectors]
        tokens = sum(len(t.split()) for t in texts)
        return Response(orjson.dumps({
            "id": str(uuid.uuid4()),
            "embeddings": embeddings,
            "texts": texts,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
            "response_type": "embeddings_by_type",
        }), media_type="application/json")

    def app(self) -> Starlette:
        return Starlette(routes=[Route(self.path, self._embed, methods=["POST"])])
