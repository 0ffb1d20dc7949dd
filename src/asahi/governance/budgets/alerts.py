"""Budget alerts at 50, 80 and 100 % of a period's limit: each sent once per budget and period, fleet-wide.

The database decides "once": a row per (budget, period, threshold) whose insert fails for every instance but the
first. Delivery is a webhook POST (the org's `alert_webhook_url`) and/or an email to the org's address through
the configured mailer; neither ever fails or delays a request (they run as background tasks). A webhook whose
host resolves to a private, loopback or link-local address is not called unless the operator allows it
(`notify.private_webhooks`): an org must not use the gateway to reach into its network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.governance.budgets.counters import Claim
from asahi.governance.budgets.spec import to_usd
from asahi.notify.base import Mailer
from asahi.store.tables import budget_alerts, orgs

log = logging.getLogger(__name__)
THRESHOLDS = (50, 80, 100)
_WEBHOOK_TIMEOUT = 5.0


def crossed(limit_nano: int, before_nano: int, after_nano: int) -> list[int]:
    """The thresholds this spend went over (at or past), not those already behind it."""
    return [t for t in THRESHOLDS if before_nano * 100 < t * limit_nano <= after_nano * 100]


@dataclass(frozen=True, slots=True)
class Alert:
    claim: Claim
    threshold: int
    spent_nano: int

    def payload(self) -> dict[str, Any]:
        budget = self.claim.ref.budget
        return {
            "type": "budget.threshold", "threshold_percent": self.threshold, "org_id": self.claim.ref.org_id,
            "scope": self.claim.ref.scope, "owner": self.claim.ref.owner, "window": budget.window,
            "hard": budget.hard, "limit_usd": budget.limit_usd, "spent_usd": to_usd(self.spent_nano),
            "period_start": self.claim.period.start.isoformat(), "resets_at": self.claim.period.end.isoformat(),
        }


async def public_address(url: str) -> bool:
    """Whether every address `url`'s host resolves to is public: an org's webhook must not make the gateway
    reach into its own network (cloud metadata, internal services)."""
    parsed = urlsplit(url)
    if parsed.hostname is None:
        return False
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(parsed.hostname, port, type=socket.SOCK_STREAM)
    except OSError:
        return False
    addresses = {ipaddress.ip_address(info[4][0]) for info in found}
    return bool(addresses) and all(a.is_global for a in addresses)


class Alerts:
    def __init__(self, engine: AsyncEngine, mailer: Mailer | None, *, private_webhooks: bool = False) -> None:
        self._engine = engine
        self._mailer = mailer
        self._private_webhooks = private_webhooks
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent: list[Alert] = []  # what this instance sent, newest last (for the health of the feature)

    def spent(self, claim: Claim, before_nano: int, after_nano: int, webhook: str | None) -> None:
        for threshold in crossed(claim.ref.limit_nano, before_nano, after_nano):
            task = asyncio.create_task(self._send(Alert(claim, threshold, after_nano), webhook))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _claim(self, alert: Alert) -> str | None:
        """Record the alert as sent; the org's address when this instance is the one to send it, else None."""
        try:
            async with self._engine.begin() as connection:
                await connection.execute(budget_alerts.insert().values(
                    budget_id=alert.claim.ref.id, period_start=alert.claim.period.start, threshold=alert.threshold,
                    sent_at=datetime.now(UTC)))
                row = (await connection.execute(select(orgs.c.email).where(orgs.c.id == alert.claim.ref.org_id))
                       ).first()
        except IntegrityError:
            return None
        return "" if row is None else str(row[0])

    async def _send(self, alert: Alert, webhook: str | None) -> None:
        try:
            email = await self._claim(alert)
            if email is None:
                return
            self.sent.append(alert)
            payload = alert.payload()
            if webhook and (self._private_webhooks or await public_address(webhook)):
                timeout = aiohttp.ClientTimeout(total=_WEBHOOK_TIMEOUT)
                async with aiohttp.ClientSession(timeout=timeout) as session, session.post(webhook, json=payload):
                    pass
            if email and self._mailer is not None:
                subject = f"Asahi budget at {alert.threshold}%: {payload['scope']} {payload['window']} budget"
                text = (f"Spend is ${payload['spent_usd']:.4f} of the ${payload['limit_usd']:g} "
                        f"{payload['window']} budget of {payload['scope']} {payload['owner']} "
                        f"({'hard' if payload['hard'] else 'soft'}); it resets at {payload['resets_at']}.")
                await self._mailer.send_notice(email, subject, text)
        except Exception as exc:  # noqa: BLE001  # an alert that cannot go out is logged, never raised
            log.warning("budget alert could not be sent: %s", type(exc).__name__)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
