"""/analytics: what an org spent and saved and why, from the ledger (analytics scope, the caller's org only).

- GET /analytics/usage: totals, savings by cause, cache hit rates, overhead, and a time series by hour or day.
- GET /analytics/requests: the ledger newest first, filtered and cursor-paginated; /analytics/requests/{id}: one.
- GET /analytics/facets: the models and keys seen, for filters.
- GET /analytics/cache: tier 2's bound on wrong hits (δ) against what feedback measured.
- GET /analytics/routing: the quality routing keeps, per prompt family, as the org's own verified requests
  measure it, against its floor.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request

from asahi.api.deps import caller, components
from asahi.errors import BadRequest, NotFound
from asahi.governance.auth import require_scope
from asahi.governance.keys import KeyRecord
from asahi.ledger import queries
from asahi.ledger.queries import CACHE_OUTCOMES, Granularity, RequestFilter, Window

router = APIRouter(prefix="/analytics")

MAX_DAYS = 366
MAX_HOURLY_DAYS = 31
# Requests are listed over the whole ledger unless a range is asked for.
LEDGER_START = datetime(2000, 1, 1, tzinfo=UTC)

Days = Annotated[int | None, Query(ge=1, le=MAX_DAYS, description="The last N days (default 30 for usage).")]
Since = Annotated[datetime | None, Query(description="Start of the range (ISO 8601; no zone means UTC).")]
Until = Annotated[datetime | None, Query(description="End of the range, excluded (default: now).")]


async def _analyst(request: Request) -> KeyRecord:
    key = await caller(request)
    require_scope(key, "analytics")
    return key


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _window(org_id: str, days: int | None, since: datetime | None, until: datetime | None,
            default_since: datetime | None) -> Window:
    end = _aware(until) if until is not None else datetime.now(UTC)
    if since is not None:
        start = _aware(since)
    elif days is not None:
        start = end - timedelta(days=days)
    else:
        start = default_since or LEDGER_START
    if start >= end:
        raise BadRequest("since must be before until.", param="since")
    return Window(org_id, start, end)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"tz: unknown time zone '{name}' (use an IANA name such as Europe/Paris).",
                         param="tz") from None


@router.get("/usage")
async def usage(
    request: Request, days: Days = None, since: Since = None, until: Until = None,
    granularity: Annotated[Granularity, Query(description="Buckets of the series.")] = "day",
    tz: Annotated[str, Query(max_length=64, description="IANA time zone the buckets follow.")] = "UTC",
) -> dict[str, Any]:
    key = await _analyst(request)
    now = datetime.now(UTC)
    window = _window(key.org_id, days, since, until, now - timedelta(days=30))
    span = window.until - window.since
    if span > timedelta(days=MAX_DAYS):
        raise BadRequest(f"The range may span at most {MAX_DAYS} days.", param="since")
    if granularity == "hour" and span > timedelta(days=MAX_HOURLY_DAYS):
        raise BadRequest(f"Hourly series span at most {MAX_HOURLY_DAYS} days; ask for days.", param="granularity")
    zone = _zone(tz)
    async with components(request).engine.connect() as connection:
        summary = await queries.usage_summary(connection, window)
        series = await queries.usage_series(connection, window, granularity, zone)
    return {"org_id": key.org_id, "since": window.since.isoformat(), "until": window.until.isoformat(),
            "granularity": granularity, "tz": tz, **summary, "series": series}


def _cache_filter(values: list[str]) -> tuple[str, ...]:
    outcomes = tuple(dict.fromkeys(v.strip() for value in values for v in value.split(",") if v.strip()))
    if unknown := [o for o in outcomes if o not in CACHE_OUTCOMES]:
        raise BadRequest(f"cache: unknown outcomes {unknown}; use {list(CACHE_OUTCOMES)}.", param="cache")
    return outcomes


@router.get("/requests")
async def list_requests(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
    model: Annotated[str | None, Query(max_length=100, description="Asked for or answered with")] = None,
    cache: Annotated[list[str] | None, Query(description="miss, t1, t2, t3, bypass (repeat or comma-separate)")]
    = None,
    status: Annotated[str | None, Query(pattern=r"^(ok|error|[1-5][0-9][0-9])$")] = None,
    key_id: Annotated[str | None, Query(max_length=32)] = None,
    days: Days = None, since: Since = None, until: Until = None,
) -> dict[str, Any]:
    key = await _analyst(request)
    window = _window(key.org_id, days, since, until, None)
    filters = RequestFilter(model=model, cache=_cache_filter(cache or []), status=status, key_id=key_id)
    async with components(request).engine.connect() as connection:
        rows, following = await queries.list_requests(connection, window, filters, limit, cursor)
    return {"data": rows, "next_cursor": following}


@router.get("/requests/{request_id}")
async def request_detail(request_id: str, request: Request) -> dict[str, Any]:
    key = await _analyst(request)
    async with components(request).engine.connect() as connection:
        row = await queries.request_detail(connection, key.org_id, request_id)
    if row is None:  # another org's request is as unknown as one that never was
        raise NotFound("No request with this id in this org.", code="unknown_request")
    return row


@router.get("/facets")
async def facets(request: Request, days: Days = None, since: Since = None, until: Until = None) -> dict[str, Any]:
    key = await _analyst(request)
    window = _window(key.org_id, days, since, until, None)
    async with components(request).engine.connect() as connection:
        return await queries.request_facets(connection, window)


@router.get("/cache")
async def cache_report(request: Request, days: Days = None, since: Since = None, until: Until = None
                       ) -> dict[str, Any]:
    """Tier 2's promise and its record: δ bounds wrong hits per tier 2 lookup; feedback measures them."""
    key = await _analyst(request)
    built = components(request)
    window = _window(key.org_id, days, since, until, datetime.now(UTC) - timedelta(days=30))
    async with built.engine.connect() as connection:
        measured = await queries.feedback_summary(connection, window)
    tier2 = built.tier2
    if tier2 is None:
        return {"tier2": {"enabled": False, "feedback": measured}}
    policy = await built.policies.get(key.org_id)
    model = tier2.cache.model(key.org_id)
    return {"tier2": {
        "enabled": True,
        "embedder": tier2.embedder.name,
        "vector_store": tier2.cache.index.name,
        "delta": policy.tier2_target_error if policy.tier2_target_error is not None else tier2.cache.default_delta,
        "delta_source": "policy" if policy.tier2_target_error is not None else "default",
        # The policy's own running, pessimistic estimate of wrong hits per lookup on this instance: what it
        # keeps under δ. Recent lookups weigh most.
        "estimated_error_rate": model.spent / model.lookups if model.lookups else None,
        "labels": len(model.labels),
        "feedback": measured,
    }}


@router.get("/routing")
async def routing_report(request: Request) -> dict[str, Any]:
    """Routing's promise and its record on this instance: the floor, and per family the quality kept at the
    threshold in force with the lower confidence bound the floor applies to."""
    key = await _analyst(request)
    built = components(request)
    policy = await built.policies.get(key.org_id)
    floor = built.router.floor_of(policy)
    online = built.router.online
    if online is None:
        return {"online": False, "floor": floor, "families": []}
    return {"online": True, "floor": floor, "families": online.quality_report(key.org_id, floor)}
