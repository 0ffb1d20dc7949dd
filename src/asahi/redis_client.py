"""The process's link to Redis: short timeouts, a breaker, and reconnection in the background.

Redis is optional and may come and go. Every user (tier 1, rate limits, budgets, revocations, tier 2 sync) asks
`link.up` before a command and reports a failure with `link.failed`; the first failure opens the breaker, so a
dead or hung Redis costs one short timeout, not one per request, and everything runs on its in-process fallback
meanwhile. A probe pings every second while the link is down and closes the breaker as soon as Redis answers, so
an instance that started without Redis, or lost it, is back on it within about a second of its return.

At start-up a failure logs the guide's line, "Redis cache init or ping failed", with the reason (never the URL,
which may hold a password).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # redis-py (~6 MB resident) is imported only when REDIS_URL is set
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

log = logging.getLogger(__name__)
OP_TIMEOUT = 0.5  # seconds per command: Redis answers in well under a millisecond when healthy
PROBE_INTERVAL = 1.0


class RedisLink:
    def __init__(self, url: str | None, *, op_timeout: float = OP_TIMEOUT, probe_interval: float = PROBE_INTERVAL
                 ) -> None:
        self.configured = url is not None
        self._probe_interval = probe_interval
        self._probe: asyncio.Task[None] | None = None
        self._up = False
        self._woken = asyncio.Event()
        self.client: Redis | None = None
        self.subscriber: Redis | None = None
        if url is not None:
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            # No retries inside redis-py: each retry of a hung server is another timeout on the request's path.
            no_retry = Retry(NoBackoff(), 0)
            self.client = Redis.from_url(url, socket_connect_timeout=op_timeout, socket_timeout=op_timeout,
                                         retry=no_retry, health_check_interval=30)
            # Pub/sub waits for messages indefinitely, so it cannot share the commands' read timeout; a periodic
            # health check finds a dead connection instead.
            self.subscriber = Redis.from_url(url, socket_connect_timeout=op_timeout, retry=no_retry,
                                             health_check_interval=5)

    @property
    def up(self) -> bool:
        return self._up

    async def start(self) -> None:
        if self.client is None:
            return
        try:
            await self.client.ping()
            self._up = True
        except Exception as exc:  # noqa: BLE001  # any failure means: run on memory, say why, keep trying
            log.warning("Redis cache init or ping failed: %s: %s", type(exc).__name__, exc)
        self._probe = asyncio.create_task(self._probing())

    def failed(self, exc: BaseException) -> None:
        """A command failed: go on without Redis until the probe sees it answer again."""
        if self._up:
            self._up = False
            log.warning("Redis unreachable (%s): going on with in-process fallbacks until it answers",
                        type(exc).__name__)
        self._woken.set()

    async def _probing(self) -> None:
        assert self.client is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self._probe_interval)
            self._woken.clear()
            if self._up:
                continue
            await asyncio.sleep(self._probe_interval)
            try:
                # The pool's connections may still be to a server that died: each would fail once when drawn,
                # knocking the link down again, one probe interval per connection. Reconnect them all instead.
                await self.client.connection_pool.disconnect()
                await self.client.ping()
            except Exception:  # noqa: BLE001  # still down; the next round tries again
                continue
            self._up = True
            log.warning("Redis reachable again: back on the shared caches and limits")

    async def aclose(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        for client in (self.client, self.subscriber):
            if client is not None:
                await client.aclose()


class Subscription:
    """A channel listened to for the process's life, through Redis outages and restarts.

    `on_subscribed` runs each time the subscription is (re)established, so a listener can catch up on what was
    published while it was not listening. Stopping closes the subscription's socket instead of cancelling the
    task: a cancellation delivered inside redis-py's read can be swallowed, leaving the task hanging at shutdown,
    while a closed socket ends the read at once.
    """

    def __init__(
        self, link: RedisLink, channel: str, on_message: Callable[[str], Awaitable[object]],
        on_subscribed: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._link = link
        self._channel = channel
        self._on_message = on_message
        self._on_subscribed = on_subscribed
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pubsub: PubSub | None = None

    def start(self) -> None:
        if self._link.subscriber is not None:
            self._task = asyncio.create_task(self._run(self._link.subscriber))

    async def _run(self, redis: Redis) -> None:
        deaf = False
        while not self._stopping.is_set():
            try:
                async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    self._pubsub = pubsub
                    await pubsub.subscribe(self._channel)
                    if self._on_subscribed is not None:
                        await self._on_subscribed()
                    if deaf:
                        log.warning("%s: listening again", self._channel)
                    deaf = False
                    while not self._stopping.is_set():
                        message = await pubsub.get_message(timeout=None)
                        if message is not None and message.get("type") == "message":
                            data = message["data"]
                            await self._on_message(data.decode() if isinstance(data, bytes) else str(data))
            except Exception as exc:  # noqa: BLE001  # keep listening through Redis restarts
                if not deaf:
                    log.warning("%s: lost Redis (%s), listening again when it answers", self._channel,
                                type(exc).__name__)
                deaf = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 1.0)

    async def aclose(self) -> None:
        self._stopping.set()
        if self._task is None:
            return
        connection = self._pubsub.connection if self._pubsub is not None else None
        if connection is not None:
            await connection.disconnect(nowait=True)
        done, _ = await asyncio.wait({self._task}, timeout=3.0)
        if not done:
            self._task.cancel()
            log.warning("%s: listener did not stop in time", self._channel)
