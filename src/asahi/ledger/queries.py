"""Reading the ledger: the figures /analytics serves and the dashboard draws. Every query is scoped to one org.

Savings are split by cause so that they add up to the total: tier 1 and tier 2 hits save their whole baseline,
tier 3 is the part of any answer's saving the provider's prompt cache made (`prompt_cache_saved_usd`), and routing
is the rest of an upstream answer's saving (a cheaper model than the baseline).

Time series are summed in SQL by quarter hour (every time zone's offset is a whole number of quarter hours) and
gathered into the caller's hours or days here, so a day is the caller's day on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, ColumnElement, Integer, and_, case, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from asahi.errors import BadRequest
from asahi.store.tables import api_keys, tier2_feedback, usage_records

CACHE_OUTCOMES = ("miss", "t1", "t2", "t3", "bypass")
CAUSES = ("tier1", "tier2", "tier3", "routing")
Granularity = Literal["hour", "day"]
QUARTER_HOUR = 900

u = usage_records.c


@dataclass(frozen=True, slots=True)
class Window:
    """One org's rows created in [since, until)."""

    org_id: str
    since: datetime
    until: datetime

    def where(self) -> ColumnElement[bool]:
        return and_(u.org_id == self.org_id, u.created_at >= self.since, u.created_at < self.until)


@dataclass(frozen=True, slots=True)
class RequestFilter:
    model: str | None = None  # the model asked for or the one that answered
    cache: tuple[str, ...] = ()
    status: str | None = None  # "ok" (< 400), "error" (>= 400) or one status code
    key_id: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.model:
            clauses.append(or_(u.model_used == self.model, u.model_requested == self.model))
        if self.cache:
            clauses.append(u.cache.in_(self.cache))
        if self.status == "ok":
            clauses.append(u.status < 400)
        elif self.status == "error":
            clauses.append(u.status >= 400)
        elif self.status is not None:
            clauses.append(u.status == int(self.status))
        if self.key_id:
            clauses.append(u.key_id == self.key_id)
        return clauses


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything Asahi stores is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _money(value: Any) -> float:
    return float(value or 0.0)


# --- totals -------------------------------------------------------------------------------------------------------

def _sums() -> tuple[ColumnElement[Any], ...]:
    return (
        func.count(),
        func.coalesce(func.sum(u.cost_usd), 0.0),
        func.coalesce(func.sum(u.baseline_cost_usd), 0.0),
        func.coalesce(func.sum(u.saved_usd), 0.0),
        func.coalesce(func.sum(u.input_tokens), 0),
        func.coalesce(func.sum(u.output_tokens), 0),
    )


def _figures(row: Sequence[Any], offset: int = 0) -> dict[str, Any]:
    return {
        "requests": int(row[offset]), "cost_usd": _money(row[offset + 1]),
        "baseline_cost_usd": _money(row[offset + 2]), "saved_usd": _money(row[offset + 3]),
        "input_tokens": int(row[offset + 4]), "output_tokens": int(row[offset + 5]),
    }


def _count_where(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _saving_columns() -> tuple[ColumnElement[Any], ...]:
    """Saved USD by cause (tier 1, tier 2, tier 3, routing), adding up to the rows' whole saving."""
    hit = u.saving_cause.in_(("tier1", "tier2"))
    return (
        func.coalesce(func.sum(case((u.saving_cause == "tier1", u.saved_usd), else_=0.0)), 0.0),
        func.coalesce(func.sum(case((u.saving_cause == "tier2", u.saved_usd), else_=0.0)), 0.0),
        func.coalesce(func.sum(func.coalesce(u.prompt_cache_saved_usd, 0.0)), 0.0),
        func.coalesce(func.sum(case(
            (hit, 0.0), else_=func.coalesce(u.saved_usd, 0.0) - func.coalesce(u.prompt_cache_saved_usd, 0.0)
        )), 0.0),
    )


def _cache_columns() -> tuple[ColumnElement[Any], ...]:
    """Answered requests by cache outcome, then failed requests."""
    answered = u.status < 400
    return (*(_count_where(and_(answered, u.cache == outcome)) for outcome in CACHE_OUTCOMES),
            _count_where(u.status >= 400))


def _cache_figures(row: Sequence[Any], offset: int) -> tuple[dict[str, int], int]:
    counts = {outcome: int(row[offset + i]) for i, outcome in enumerate(CACHE_OUTCOMES)}
    return counts, int(row[offset + len(CACHE_OUTCOMES)])


def hit_rates(cache: dict[str, int]) -> dict[str, float | None]:
    """Shares of the answered, cacheable requests (`bypass` ones could not hit) that each tier served.
    `t3`: answered upstream with part of the prompt from the provider's cache."""
    eligible = sum(n for outcome, n in cache.items() if outcome != "bypass")
    if not eligible:
        return {"t1": None, "t2": None, "t3": None, "cache": None}
    return {"t1": cache["t1"] / eligible, "t2": cache["t2"] / eligible, "t3": cache["t3"] / eligible,
            "cache": (cache["t1"] + cache["t2"]) / eligible}


async def _percentiles(connection: AsyncConnection, window: Window, column: Any,
                       shares: tuple[float, ...]) -> dict[str, float | None]:
    """Nearest-rank percentiles of a column over the answered requests (no percentile function on SQLite)."""
    answered = and_(window.where(), u.status < 400)
    n = (await connection.execute(select(func.count()).where(answered))).scalar_one()
    result: dict[str, float | None] = {}
    for share in shares:
        name = f"p{round(share * 100)}"
        if not n:
            result[name] = None
            continue
        rank = min(n - 1, max(0, math.ceil(share * n) - 1))
        value = (await connection.execute(
            select(column).where(answered).order_by(column).offset(rank).limit(1)
        )).scalar_one()
        result[name] = round(float(value), 3)
    return result


async def usage_summary(connection: AsyncConnection, window: Window) -> dict[str, Any]:
    scope = window.where()
    total = (await connection.execute(
        select(*_sums(), *_saving_columns(), *_cache_columns(),
               _count_where(u.cost_complete.is_(False))).where(scope)
    )).one()
    by_cause = (await connection.execute(
        select(u.saving_cause, *_sums()).where(scope).group_by(u.saving_cause)
    )).all()
    by_model = (await connection.execute(
        select(u.model_used, *_sums()).where(scope).group_by(u.model_used)
    )).all()
    base = len(_sums())
    savings = {cause: _money(total[base + i]) for i, cause in enumerate(CAUSES)}
    cache, errors = _cache_figures(total, base + len(CAUSES))
    figures = _figures(total)
    baseline = figures["baseline_cost_usd"]
    return {
        "total": {
            **figures,
            "rows_with_unknown_price": int(total[-1]),
            "saved_share": figures["saved_usd"] / baseline if baseline > 0 else None,
            "errors": errors,
        },
        "by_cause": {str(row[0] or "none"): _figures(row, 1) for row in by_cause},
        "by_model": {str(row[0]): _figures(row, 1) for row in by_model},
        "savings": savings,
        "cache": cache,
        "hit_rates": hit_rates(cache),
        "overhead_ms": await _percentiles(connection, window, u.overhead_ms, (0.5, 0.95)),
        "latency_ms": await _percentiles(connection, window, u.latency_ms, (0.5, 0.95)),
    }


# --- time series --------------------------------------------------------------------------------------------------

def _quarter_hour(dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", u.created_at) / QUARTER_HOUR), BigInteger)
    return cast(func.strftime("%s", u.created_at), Integer).op("/")(QUARTER_HOUR)


def _bucket_start(moment: datetime, granularity: Granularity, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    if granularity == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    return datetime.combine(local.date(), time(), tzinfo=zone)


def _next_bucket(start: datetime, granularity: Granularity, zone: ZoneInfo) -> datetime:
    if granularity == "hour":
        return (start.astimezone(UTC) + timedelta(hours=1)).astimezone(zone)
    return datetime.combine(start.date() + timedelta(days=1), time(), tzinfo=zone)


def _empty_point(start: datetime) -> dict[str, Any]:
    return {"start": start.isoformat(), "requests": 0, "errors": 0, "cost_usd": 0.0, "baseline_cost_usd": 0.0,
            "saved_usd": 0.0, "savings": dict.fromkeys(CAUSES, 0.0), "cache": dict.fromkeys(CACHE_OUTCOMES, 0)}


async def usage_series(connection: AsyncConnection, window: Window, granularity: Granularity,
                       zone: ZoneInfo) -> list[dict[str, Any]]:
    """One point per hour or day of `zone` in the window, empty ones included, so a chart's axis is time."""
    quarter = _quarter_hour(connection.dialect.name).label("quarter")
    rows = (await connection.execute(
        select(quarter, func.count(), func.coalesce(func.sum(u.cost_usd), 0.0),
               func.coalesce(func.sum(u.baseline_cost_usd), 0.0), func.coalesce(func.sum(u.saved_usd), 0.0),
               *_saving_columns(), *_cache_columns())
        .where(window.where()).group_by(quarter)
    )).all()
    points: dict[float, dict[str, Any]] = {}
    start = _bucket_start(window.since, granularity, zone)
    while start < window.until:
        points[start.timestamp()] = _empty_point(start)
        start = _next_bucket(start, granularity, zone)
    for row in rows:
        moment = datetime.fromtimestamp(int(row[0]) * QUARTER_HOUR, UTC)
        point = points.get(_bucket_start(moment, granularity, zone).timestamp())
        if point is None:  # cannot happen for rows inside the window; never invent a bucket
            continue
        point["requests"] += int(row[1])
        point["cost_usd"] += _money(row[2])
        point["baseline_cost_usd"] += _money(row[3])
        point["saved_usd"] += _money(row[4])
        for i, cause in enumerate(CAUSES):
            point["savings"][cause] += _money(row[5 + i])
        cache, errors = _cache_figures(row, 5 + len(CAUSES))
        for outcome, n in cache.items():
            point["cache"][outcome] += n
        point["errors"] += errors
    return list(points.values())


# --- requests -----------------------------------------------------------------------------------------------------

def encode_cursor(created_at: datetime, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_utc(created_at).isoformat()}|{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, row_id = raw.partition("|")
        return _utc(datetime.fromisoformat(moment)), int(row_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("cursor: not a cursor this API returned.", param="cursor") from None


def _request_columns() -> list[Any]:
    return [
        u.id, u.request_id, u.created_at, u.surface, u.key_id, api_keys.c.name.label("key_name"),
        api_keys.c.prefix.label("key_prefix"), u.model_requested, u.model_used, u.provider, u.cache, u.similarity,
        u.status, u.error_code, u.cost_usd, u.baseline_cost_usd, u.saved_usd, u.prompt_cache_saved_usd,
        u.cost_complete, u.saving_cause, u.latency_ms, u.overhead_ms, u.input_tokens, u.output_tokens,
        u.cached_input_tokens, u.cache_write_tokens, u.reasoning_tokens, u.routing_reason, u.alternatives,
        tier2_feedback.c.correct.label("feedback_correct"),
    ]


def _joined() -> Any:
    keys_of_org = and_(api_keys.c.id == u.key_id, api_keys.c.org_id == u.org_id)
    feedback_of_org = and_(tier2_feedback.c.request_id == u.request_id, tier2_feedback.c.org_id == u.org_id)
    return usage_records.outerjoin(api_keys, keys_of_org).outerjoin(tier2_feedback, feedback_of_org)


def _alternatives(raw: Any) -> list[dict[str, Any]]:
    """[[model, estimated USD, predicted quality share], ...] as named fields."""
    named = []
    for item in raw or []:
        model, usd, quality = [*item, None, None, None][:3]
        named.append({"model": model, "estimated_cost_usd": usd, "quality_share": quality})
    return named


def _request_view(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {
        "request_id": m["request_id"], "created_at": _utc(m["created_at"]).isoformat(), "surface": m["surface"],
        "key_id": m["key_id"], "key_name": m["key_name"], "key_prefix": m["key_prefix"],
        "model": m["model_used"], "model_requested": m["model_requested"], "provider": m["provider"],
        "cache_tier": m["cache"], "similarity": m["similarity"], "status": m["status"],
        "error_code": m["error_code"], "cost_usd": m["cost_usd"], "baseline_cost_usd": m["baseline_cost_usd"],
        "saved_usd": m["saved_usd"], "prompt_cache_saved_usd": m["prompt_cache_saved_usd"],
        "cost_complete": bool(m["cost_complete"]), "saving_cause": m["saving_cause"],
        "latency_ms": m["latency_ms"], "overhead_ms": m["overhead_ms"],
        "tokens": {"input": m["input_tokens"], "output": m["output_tokens"], "cached_input": m["cached_input_tokens"],
                   "cache_write": m["cache_write_tokens"], "reasoning": m["reasoning_tokens"]},
        "routing_reason": m["routing_reason"], "alternatives": _alternatives(m["alternatives"]),
        "feedback": None if m["feedback_correct"] is None else bool(m["feedback_correct"]),
    }


async def list_requests(connection: AsyncConnection, window: Window, filters: RequestFilter, limit: int,
                        cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """The org's rows newest first, `limit` at a time; the cursor names the last row returned (keyset paging,
    so rows written meanwhile neither repeat nor shift a page)."""
    query = select(*_request_columns()).select_from(_joined()).where(window.where(), *filters.where())
    if cursor is not None:
        moment, row_id = decode_cursor(cursor)
        query = query.where(or_(u.created_at < moment, and_(u.created_at == moment, u.id < row_id)))
    rows = (await connection.execute(
        query.order_by(u.created_at.desc(), u.id.desc()).limit(limit + 1)
    )).all()
    page = rows[:limit]
    following = None
    if len(rows) > limit:
        last = page[-1]._mapping
        following = encode_cursor(last["created_at"], last["id"])
    return [_request_view(row) for row in page], following


async def request_detail(connection: AsyncConnection, org_id: str, request_id: str) -> dict[str, Any] | None:
    row = (await connection.execute(
        select(*_request_columns()).select_from(_joined()).where(u.org_id == org_id, u.request_id == request_id)
    )).first()
    return None if row is None else _request_view(row)


async def request_facets(connection: AsyncConnection, window: Window) -> dict[str, list[Any]]:
    """The models that answered and the keys that called in the window: what the filters can offer."""
    models = (await connection.execute(
        select(u.model_used).where(window.where(), u.model_used.is_not(None)).distinct().order_by(u.model_used)
    )).scalars().all()
    keys = (await connection.execute(
        select(u.key_id, api_keys.c.name, api_keys.c.prefix)
        .select_from(usage_records.outerjoin(api_keys, and_(api_keys.c.id == u.key_id, api_keys.c.org_id == u.org_id)))
        .where(window.where(), u.key_id.is_not(None)).distinct().order_by(api_keys.c.name, u.key_id)
    )).all()
    return {"models": list(models), "keys": [{"id": k, "name": name, "prefix": prefix} for k, name, prefix in keys]}


async def keys_last_used(connection: AsyncConnection, org_id: str) -> dict[str, datetime]:
    rows = await connection.execute(
        select(u.key_id, func.max(u.created_at)).where(u.org_id == org_id, u.key_id.is_not(None)).group_by(u.key_id)
    )
    return {str(key_id): _utc(moment) for key_id, moment in rows}


# --- tier 2 feedback ----------------------------------------------------------------------------------------------

def wilson_upper(wrong: int, labelled: int, z: float = 1.96) -> float | None:
    """Upper end of the 95% Wilson interval of a rate: honest with few labels, where wrong/labelled is not."""
    if not labelled:
        return None
    p = wrong / labelled
    denominator = 1 + z * z / labelled
    centre = p + z * z / (2 * labelled)
    margin = z * math.sqrt(p * (1 - p) / labelled + z * z / (4 * labelled * labelled))
    return min(1.0, (centre + margin) / denominator)


async def feedback_summary(connection: AsyncConnection, window: Window) -> dict[str, Any]:
    f = tier2_feedback.c
    row = (await connection.execute(
        select(func.count(), func.coalesce(func.sum(case((f.correct.is_(False), 1), else_=0)), 0)).where(
            f.org_id == window.org_id, f.created_at >= window.since, f.created_at < window.until)
    )).one()
    labelled, wrong = int(row[0]), int(row[1])
    return {"labelled": labelled, "wrong": wrong, "rate": wrong / labelled if labelled else None,
            "rate_upper_95": wilson_upper(wrong, labelled)}
