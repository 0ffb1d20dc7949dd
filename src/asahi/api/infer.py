"""The native surface: POST /infer, the guide's endpoint, reporting cost, baseline and saving in the body."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.requests import Request
from starlette.responses import Response

from asahi.api.deps import components
from asahi.api.errors import error_body
from asahi.api.surface import authenticate, cache_directive, client_address, json_response, read_json, request_id
from asahi.call import Call, Outcome
from asahi.domain import ChatRequest, Message, TextPart
from asahi.errors import AsahiError, BadRequest
from asahi.routing.hints import AUTO_MODEL, RoutingHints, RoutingMode


class InferMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: Annotated[str, Field(max_length=1_000_000)]


class CacheFlags(BaseModel):
    model_config = ConfigDict(extra="forbid")
    read: bool = True
    write: bool = True
    force: bool = False


class InferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Annotated[str, Field(min_length=1)] | None = None
    messages: Annotated[list[InferMessage], Field(min_length=1)] | None = None
    system: str | None = None
    model_override: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    routing_mode: Literal["autopilot", "guided", "explicit"] | None = None
    quality_preference: Literal["low", "medium", "high"] | Annotated[float, Field(ge=0, le=1)] | None = None
    latency_preference: Literal["low", "normal"] | None = None
    cost_budget: Annotated[float, Field(gt=0)] | None = None
    cascade: bool | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    cache: CacheFlags | None = None

    @model_validator(mode="after")
    def _one_input(self) -> InferRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("send exactly one of 'prompt' or 'messages'")
        if self.routing_mode == "explicit" and not self.model_override:
            raise ValueError("routing_mode 'explicit' needs model_override")
        if self.routing_mode in ("autopilot", "guided") and self.model_override:
            raise ValueError(f"model_override cannot be used with routing_mode '{self.routing_mode}'")
        return self

    def to_chat(self) -> ChatRequest:
        messages = [Message("system", [TextPart(self.system)])] if self.system else []
        if self.prompt is not None:
            messages.append(Message("user", [TextPart(self.prompt)]))
        for m in self.messages or []:
            messages.append(Message(m.role, [TextPart(m.content)]))
        return ChatRequest(
            model=self.model_override or AUTO_MODEL, messages=messages, max_tokens=self.max_tokens,
            temperature=self.temperature,
        )

    def mode(self) -> Literal["autopilot", "guided", "explicit"]:
        if self.routing_mode is not None:
            return self.routing_mode
        return "explicit" if self.model_override else "autopilot"


def _parse(body: Any) -> InferRequest:
    try:
        return InferRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadRequest(f"{where}: {first['msg']}" if where else first["msg"], param=where or None) from None


def _body(outcome: Outcome) -> dict[str, Any]:
    assert outcome.result is not None
    usage = outcome.result.usage
    return {
        "request_id": outcome.request_id,
        "response": outcome.result.choices[0].message.text if outcome.result.choices else "",
        "model_used": outcome.model,
        "tokens_input": usage.input_tokens,
        "tokens_output": usage.output_tokens,
        "cost": outcome.bill.cost.usd,
        "cost_original": outcome.bill.baseline.usd,
        "cost_saved": outcome.bill.saved.usd,
        "cost_complete": outcome.bill.cost.complete and outcome.bill.baseline.complete,
        "saving_cause": outcome.bill.cause,
        "cache_hit": outcome.cache in ("t1", "t2"),
        "cache_tier": outcome.cache_tier,
        "similarity": outcome.similarity,
        "latency_ms": round(outcome.latency_ms, 3),
        "routing_reason": outcome.routing_reason,
    }


async def infer(request: Request) -> Response:
    rid = request_id(request)
    try:
        key = await authenticate(request)
        body, large = await read_json(request)
        parsed = _parse(body)
        hints = RoutingHints(
            RoutingMode(parsed.mode()), parsed.quality_preference, parsed.latency_preference, parsed.cost_budget,
            parsed.cascade,
        )
        flags = parsed.cache.model_dump() if parsed.cache else None
        call = Call(rid, "infer", key, parsed.to_chat(), cache=cache_directive(request, flags), routing=hints,
                    large=large, client=client_address(request))
        outcome = await components(request).pipeline.run(call)
    except AsahiError as err:
        return Response(error_body(err.code, err.message, **err.details), err.status,
                        headers=err.headers, media_type="application/json")
    return json_response(_body(outcome), headers=outcome.headers())
