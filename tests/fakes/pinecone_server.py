"""A fake Pinecone: the control-plane describe_index and the data-plane upsert / query / delete, on one server.

It speaks the wire protocol the `pinecone` SDK speaks (JSON bodies in camelCase, `Api-Key` header, Pinecone's
error bodies), keeps vectors per namespace, scores by cosine and evaluates metadata filters ($eq, $ne, $gt,
$gte, $lt, $lte, $in, $nin, $and, $or), so tests exercise the real SDK end to end.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.server import FakeServer, Recorded

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": lambda a, b: a == b, "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a is not None and a > b, "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b, "$lte": lambda a, b: a is not None and a <= b,
    "$in": lambda a, b: a in b, "$nin": lambda a, b: a not in b,
}


def matches_filter(metadata: dict[str, Any], flt: dict[str, Any] | None) -> bool:
    if not flt:
        return True
    for key, cond in flt.items():
        if key == "$and":
            if not all(matches_filter(metadata, c) for c in cond):
                return False
        elif key == "$or":
            if not any(matches_filter(metadata, c) for c in cond):
                return False
        elif isinstance(cond, dict):
            if not all(_COMPARE[op](metadata.get(key), value) for op, value in cond.items()):
                return False
        elif metadata.get(key) != cond:
            return False
    return True


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class FakePinecone(FakeServer):
    path = "/query"

    def __init__(self, index_name: str = "asahi-vectors", dimension: int = 384, metric: str = "cosine") -> None:
        super().__init__()
        self.index_name = index_name
        self.dimension = dimension
        self.metric = metric
        self.namespaces: dict[str, dict[str, tuple[list[float], dict[str, Any]]]] = {}
        self._failures: deque[int] = deque()

    def fail_next(self, *statuses: int) -> None:
        """The next data-plane requests answer with these HTTP statuses."""
        self._failures.extend(statuses)

    def reset(self) -> None:
        super().reset()
        self._failures.clear()
        self.namespaces.clear()

    @staticmethod
    def _json(body: Any, status: int = 200) -> Response:
        return Response(orjson.dumps(body), status, media_type="application/json")

    def _data_error(self, status: int, message: str) -> Response:
        codes = {400: 3, 401: 16, 404: 5, 429: 8, 500: 13, 503: 14}
        return self._json({"code": codes.get(status, 2), "message": message, "details": []}, status)

    async def _read(self, request: Request) -> tuple[Any, Response | None]:
        raw = await request.body()
        body = orjson.loads(raw) if raw else None
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        if request.headers.get("api-key") != self.api_key:
            return body, self._json({"error": {"code": "UNAUTHENTICATED", "message": "Invalid API Key"},
                                     "status": 401}, 401)
        if self._failures and request.url.path != f"/indexes/{self.index_name}":
            return body, self._data_error(self._failures.popleft(), "scripted failure")
        return body, None

    async def _describe(self, request: Request) -> Response:
        _, error = await self._read(request)
        if error:
            return error
        name = request.path_params["name"]
        if name != self.index_name:
            return self._json({"error": {"code": "NOT_FOUND", "message": f"Resource {name} not found"},
                               "status": 404}, 404)
        return self._json({
            "name": name,
            "host": self.url,
            "status": {"ready": True, "state": "Ready"},
            "schema": {"fields": {"values": {"type": "dense_vector", "dimension": self.dimension,
                                             "metric": self.metric}}},
            "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"},
            "deletion_protection": "disabled",
            "tags": None,
        })

    async def _upsert(self, request: Request) -> Response:
        body, error = await self._read(request)
        if error:
            return error
        space = self.namespaces.setdefault(body.get("namespace", ""), {})
        for vector in body["vectors"]:
            if len(vector["values"]) != self.dimension:
                return self._data_error(400, f"Vector dimension {len(vector['values'])} does not match the "
                                             f"dimension of the index {self.dimension}")
        for vector in body["vectors"]:
            space[vector["id"]] = (vector["values"], vector.get("metadata") or {})
        return self._json({"upsertedCount": len(body["vectors"])})

    async def _query(self, request: Request) -> Response:
        body, error = await self._read(request)
        if error:
            return error
        namespace = body.get("namespace", "")
        query = body.get("vector")
        if query is None or len(query) != self.dimension:
            return self._data_error(400, f"Vector dimension {len(query or [])} does not match the dimension "
                                         f"of the index {self.dimension}")
        found = [(vid, _cosine(query, values), values, meta)
                 for vid, (values, meta) in self.namespaces.get(namespace, {}).items()
                 if matches_filter(meta, body.get("filter"))]
        found.sort(key=lambda x: -x[1])
        matches = [{"id": vid, "score": score,
                    "values": values if body.get("includeValues") else [],
                    **({"metadata": meta} if body.get("includeMetadata") else {})}
                   for vid, score, values, meta in found[: body["topK"]]]
        return self._json({"results": [], "matches": matches, "namespace": namespace,
                           "usage": {"readUnits": 1}})

    async def _delete(self, request: Request) -> Response:
        body, error = await self._read(request)
        if error:
            return error
        space = self.namespaces.get(body.get("namespace", ""), {})
        if body.get("deleteAll"):
            space.clear()
        for vid in body.get("ids") or []:
            space.pop(vid, None)
        if body.get("filter"):
            for vid in [v for v, (_, meta) in space.items() if matches_filter(meta, body["filter"])]:
                del space[vid]
        return self._json({})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/indexes/{name}", self._describe, methods=["GET"]),
            Route("/vectors/upsert", self._upsert, methods=["POST"]),
            Route("/query", self._query, methods=["POST"]),
            Route("/vectors/delete", self._delete, methods=["POST"]),
        ])
