"""POST /feedback {request_id, correct}: a label for a tier 2 hit, which is how tier 2 learns its bound."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from asahi.api.deps import caller, components
from asahi.errors import NotFound
from asahi.governance.auth import require_scope

router = APIRouter()


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: str = Field(min_length=1, max_length=64)
    correct: bool


@router.post("/feedback", status_code=202)
async def feedback(body: Feedback, request: Request) -> dict[str, str]:
    key = await caller(request)
    require_scope(key, "infer")
    tier2 = components(request).tier2
    # Another org's request id is "unknown" here: never confirm what another org asked.
    if tier2 is None or not await tier2.feedback(key.org_id, body.request_id, body.correct):
        raise NotFound("No tier 2 hit with this request id in this org.", code="unknown_request")
    return {"status": "recorded"}
