"""POST /signup: a new org and its first admin key, returned once."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from asahi.api.admin import audit_context
from asahi.api.deps import client_ip, components
from asahi.api.fields import Name
from asahi.errors import RateLimited
from asahi.governance import accounts

router = APIRouter()

class SignupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_name: Name
    email: EmailStr


class SignupResponse(BaseModel):
    org_id: str
    org_name: str
    api_key: str = Field(description="Shown once; store it now.")
    key_id: str
    scopes: list[str]


@router.post("/signup", status_code=201, response_model=SignupResponse)
async def signup(body: SignupRequest, request: Request, background: BackgroundTasks) -> SignupResponse:
    built = components(request)
    limit = built.settings.config.server.signup_rate_limit_per_hour
    retry_after = await built.limiter.hit(f"signup:{client_ip(request)}", limit, 3600)
    if retry_after is not None:
        raise RateLimited("Too many signups from this address; try again later.", retry_after)
    org, issued = await accounts.create_org_with_key(built.engine, body.org_name, str(body.email), actor="signup",
                                                     context=audit_context(request))
    # After the response is sent: mail can neither fail nor delay the signup.
    background.add_task(built.mailer.send_welcome, org.email, org.name)
    return SignupResponse(
        org_id=org.id, org_name=org.name, api_key=issued.plaintext, key_id=issued.record.id,
        scopes=sorted(issued.record.scopes),
    )
