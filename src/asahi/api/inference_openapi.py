"""The inference routes in the OpenAPI document.

They are served ahead of FastAPI (api/hot_path.py), so FastAPI cannot describe them by itself. Their bodies are
the providers' own formats, which the surfaces parse by hand; the models here describe the fields clients must
send and the ones Asahi reads, and allow every other field, as the surfaces do (an unknown field travels on to
the provider or is refused there with a 400 naming it). The document is what clients generate code from and what
the fuzz test (tests/api/test_openapi_fuzz.py) sends requests from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from asahi.api.infer import InferRequest

_REF = "#/components/schemas/{model}"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(_Open):
    """OpenAI's chat completion request: `model` may be a catalog model, `asahi/auto` or a routing mode."""

    model: str
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    stream: bool | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    tools: list[dict[str, Any]] | None = None


class AnthropicMessage(_Open):
    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class MessagesRequest(_Open):
    """Anthropic's Messages request."""

    model: str
    max_tokens: Annotated[int, Field(ge=1)]
    messages: Annotated[list[AnthropicMessage], Field(min_length=1)]
    system: str | list[dict[str, Any]] | None = None
    stream: bool | None = None


class CountTokensRequest(_Open):
    """Anthropic's token count request."""

    model: str
    messages: Annotated[list[AnthropicMessage], Field(min_length=1)]
    system: str | list[dict[str, Any]] | None = None


class EmbeddingsRequest(_Open):
    model: str
    input: str | list[str] | list[int] | list[list[int]]


class CompletionsRequest(_Open):
    """OpenAI's legacy completions request."""

    model: str
    prompt: str | list[str]
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    stream: bool | None = None


class ResponsesRequest(_Open):
    """OpenAI's Responses API request."""

    model: str
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    previous_response_id: str | None = None
    stream: bool | None = None


# (method, path, summary, request body model or None)
OPERATIONS: list[tuple[str, str, str, type[BaseModel] | None]] = [
    ("post", "/v1/chat/completions", "Chat completion, OpenAI-compatible (JSON or SSE)", ChatCompletionRequest),
    ("post", "/v1/messages", "Message, Anthropic-compatible (JSON or SSE)", MessagesRequest),
    ("post", "/v1/messages/count_tokens", "Token count, Anthropic-compatible", CountTokensRequest),
    ("post", "/v1/embeddings", "Embeddings, OpenAI-compatible", EmbeddingsRequest),
    ("post", "/v1/completions", "Text completion, OpenAI-compatible (legacy)", CompletionsRequest),
    ("post", "/v1/responses", "Response, OpenAI Responses API", ResponsesRequest),
    ("post", "/infer", "Asahi's native inference: cost, baseline and saving in the body", InferRequest),
    ("get", "/v1/models", "The models this key may use, OpenAI-compatible", None),
]

_ANSWERS = {
    "200": {"description": "The answer in the surface's own format; `x-asahi-*` headers carry cost and cache."},
    "400": {"description": "Invalid request, in the surface's own error shape."},
    "401": {"description": "Missing or unknown API key."},
    "429": {"description": "A rate limit or a hard budget; `retry-after` says when to try again."},
}


def _operation(summary: str, model: type[BaseModel] | None, schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "tags": ["inference"], "responses": _ANSWERS,
                                 "security": [{"bearer": []}]}
    if model is not None:
        schema = model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}}}
    return operation


def describe_inference_routes(app: FastAPI) -> None:
    """Add the inference operations to the document FastAPI builds (once, on first request for it)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        components.setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
        paths = document.setdefault("paths", {})
        for method, path, summary, model in OPERATIONS:
            paths.setdefault(path, {})[method] = _operation(summary, model, schemas)
        paths["/v1/models/{model_id}"] = {"get": {
            "summary": "One model, OpenAI-compatible", "tags": ["inference"], "responses": _ANSWERS,
            "security": [{"bearer": []}],
            "parameters": [{"name": "model_id", "in": "path", "required": True, "schema": {"type": "string"}}]}}
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
