"""Budget counters in Redis: one script call per reserve and per settle, so every instance of the fleet checks
and holds against the same figures atomically.

Per budget and period there is a hash (`spent`, `reserved`, and `r:<reservation>` → amount) and a sorted set of
reservations by deadline. A counter that is missing (a new period, a flushed or restarted Redis) makes the reserve
script answer "missing"; the caller then rebuilds it from the ledger and tries again, so the ledger stays the
source of truth and no separate rebuild step can be forgotten. A settle against a missing counter adds nothing:
its spend is in the ledger the rebuild reads.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.governance.budgets.counters import Claim, Level, Refusal
from asahi.governance.budgets.ledger_spent import spent_nano

PREFIX = "asahi:budget:"
_KEEP_AFTER_END = timedelta(days=1)  # a finished period's figures stay readable a day after it resets
_ATTEMPTS = 3

# KEYS: per claim, its counter hash then its reservation set. ARGV: now (ms), reservation, amount, deadline (ms),
# then per claim: limit, hard (1/0), expire at (ms). Returns {1} held; {0, claim, spent, reserved} refused;
# {-1, claim} the claim's counter is missing.
_RESERVE = """
local now, id, amount = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local n = #KEYS / 2
for i = 1, n do
  if redis.call('EXISTS', KEYS[2*i-1]) == 0 then return {-1, i} end
end
for i = 1, n do
  local counter, held = KEYS[2*i-1], KEYS[2*i]
  local dead = redis.call('ZRANGEBYSCORE', held, '-inf', now)
  for _, gone in ipairs(dead) do
    local left = redis.call('HGET', counter, 'r:' .. gone)
    if left then
      redis.call('HINCRBY', counter, 'reserved', -tonumber(left))
      redis.call('HDEL', counter, 'r:' .. gone)
    end
  end
  if #dead > 0 then redis.call('ZREMRANGEBYSCORE', held, '-inf', now) end
end
for i = 1, n do
  if ARGV[3*i+3] == '1' then
    local spent = tonumber(redis.call('HGET', KEYS[2*i-1], 'spent'))
    local reserved = tonumber(redis.call('HGET', KEYS[2*i-1], 'reserved'))
    if spent + reserved + amount > tonumber(ARGV[3*i+2]) then return {0, i, spent, reserved} end
  end
end
for i = 1, n do
  local counter, held = KEYS[2*i-1], KEYS[2*i]
  redis.call('HINCRBY', counter, 'reserved', ARGV[3])
  redis.call('HSET', counter, 'r:' .. id, ARGV[3])
  redis.call('ZADD', held, ARGV[4], id)
  redis.call('PEXPIREAT', held, ARGV[3*i+4])
end
return {1}
"""

# KEYS: per claim, hash then set. ARGV: reservation, actual. Returns each claim's spend after, -1 when missing.
_SETTLE = """
local out = {}
for i = 1, #KEYS / 2 do
  local counter, held = KEYS[2*i-1], KEYS[2*i]
  local amount = redis.call('HGET', counter, 'r:' .. ARGV[1])
  if amount then
    redis.call('HINCRBY', counter, 'reserved', -tonumber(amount))
    redis.call('HDEL', counter, 'r:' .. ARGV[1])
  end
  redis.call('ZREM', held, ARGV[1])
  if redis.call('EXISTS', counter) == 1 then
    out[i] = redis.call('HINCRBY', counter, 'spent', ARGV[2])
  else
    out[i] = -1
  end
end
return out
"""

# KEYS: the counter. ARGV: spent from the ledger, expire at (ms). A counter another instance built first stands.
_BUILD = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'spent', ARGV[1], 'reserved', 0)
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return 1
"""


class ScriptBatch:
    """Script calls of concurrent requests sent together: one pipeline, one round trip.

    redis-py's per-command cost (connection checkout, packing, a socket write, a wake-up on the reply) is most of
    what a budget costs a request; calls made while a batch is in flight go together in the next one, so under
    load one round trip serves many requests, and a lone request still goes at once. Each script still runs
    atomically on its own in Redis, in the order sent.
    """

    MAX_BATCH = 128

    def __init__(self, client: Redis, scripts: list[AsyncScript]) -> None:
        self._client = client
        self._scripts = scripts
        self._waiting: list[tuple[AsyncScript, list[str], list[int | str], asyncio.Future[Any]]] = []
        self._in_flight: asyncio.Task[None] | None = None
        self._alone = False

    async def call(self, script: AsyncScript, keys: list[str], args: list[int | str]) -> Any:
        if self._in_flight is None and not self._alone:
            # Nothing in flight: this call goes at once, on its own (no task, no pipeline); calls arriving
            # meanwhile wait and go together when it is back.
            self._alone = True
            try:
                return await script(keys=keys, args=args)
            finally:
                self._alone = False
                self._next()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((script, keys, args, future))
        if self._in_flight is None and not self._alone:
            self._next()
        return await future

    def _next(self) -> None:
        if self._waiting and self._in_flight is None:
            self._in_flight = asyncio.get_running_loop().create_task(self._send())

    async def _execute(self, calls: list[tuple[AsyncScript, list[str], list[int | str], asyncio.Future[Any]]]
                       ) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for script, keys, args, _ in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            results: list[Any] = await pipe.execute(raise_on_error=False)
        return results

    async def _send(self) -> None:
        batch, self._waiting = self._waiting[: self.MAX_BATCH], self._waiting[self.MAX_BATCH:]
        try:
            if len(batch) == 1:  # a plain call costs less than a pipeline of one
                script, keys, args, _ = batch[0]
                results = [await script(keys=keys, args=args)]
            else:
                results = await self._execute(batch)
            unknown = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
            if unknown:  # a restarted Redis forgot the scripts: load them, run again only the calls that did not run
                for script in self._scripts:
                    await self._client.script_load(script.script)
                for i, again in zip(unknown, await self._execute([batch[i] for i in unknown]), strict=True):
                    results[i] = again
        except BaseException as exc:
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else ConnectionError("cancelled"))
            if not isinstance(exc, Exception):
                raise
        else:
            for (*_, future), result in zip(batch, results, strict=True):
                if future.done():  # its request was cancelled meanwhile
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        finally:
            self._in_flight = None
            self._next()


def counter_key(claim: Claim) -> str:
    return PREFIX + claim.key


def _expire_ms(claim: Claim) -> int:
    return int((claim.period.end + _KEEP_AFTER_END).timestamp() * 1000)


class RedisCounters:
    def __init__(self, client: Redis, engine: AsyncEngine) -> None:
        self._engine = engine
        self._client = client
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)
        self._build = client.register_script(_BUILD)
        self._batch = ScriptBatch(client, [self._reserve, self._settle, self._build])

    async def reserve(self, claims: list[Claim], reservation: str, amount_nano: int, ttl: float
                      ) -> Refusal | None:
        keys = [k for c in claims for k in (counter_key(c), counter_key(c) + ":r")]
        now_ms = int(time.time() * 1000)
        args: list[int | str] = [now_ms, reservation, amount_nano, now_ms + int(ttl * 1000)]
        for claim in claims:
            args += [claim.limit_nano, int(claim.ref.budget.hard), _expire_ms(claim)]
        for _ in range(_ATTEMPTS):
            answer = await self._batch.call(self._reserve, keys, args)
            state = int(answer[0])
            if state == 1:
                return None
            claim = claims[int(answer[1]) - 1]
            if state == 0:
                return Refusal(claim, Level(int(answer[2]), int(answer[3])))
            await self.rebuild(claim)
        raise RuntimeError("budget counters keep disappearing (is something flushing Redis?)")

    async def rebuild(self, claim: Claim) -> None:
        async with self._engine.connect() as connection:
            spent = await spent_nano(connection, claim)
        await self._build(keys=[counter_key(claim)], args=[spent, _expire_ms(claim)])

    async def settle(self, claims: list[Claim], reservation: str, actual_nano: int) -> list[int | None]:
        keys = [k for c in claims for k in (counter_key(c), counter_key(c) + ":r")]
        answer = await self._batch.call(self._settle, keys, [reservation, actual_nano])
        return [None if int(v) < 0 else int(v) for v in answer]

    async def levels(self, claims: list[Claim]) -> list[Level]:
        found: list[Level] = []
        for claim in claims:
            spent, reserved = await self._client.hmget(counter_key(claim), ["spent", "reserved"])
            if spent is None:
                await self.rebuild(claim)
                spent, reserved = await self._client.hmget(counter_key(claim), ["spent", "reserved"])
            found.append(Level(int(spent or 0), int(reserved or 0)))
        return found

    async def forget(self, claims: list[Claim]) -> None:
        """Drop counters that may be stale (spend went through the database meanwhile): rebuilt on next use."""
        if claims:
            await self._client.delete(*[counter_key(c) for c in claims])
