"""Provider prompt caching, modelled as the providers bill it, so tier 3 shows offline as on a real bill.

A simulator model caches like the model it stands in for (`model_family` in `asahi.cache.prefix`):

- OpenAI: automatic. A prompt of 1,024 tokens or more is cached on the machine that served it, at every
  128-token step. A later prompt on that machine reads its longest cached prefix, so cached tokens come in
  steps: 1,024, 1,152, 1,280 ... Writes are free. OpenAI picks the machine from a hash of the prompt's opening
  and the request's `prompt_cache_key`; the opening is part of every cached prefix anyway, so the model keys
  entries by the key: requests with different keys never meet, requests with the same key (or none) do.
- Anthropic: only what the request marks. A `cache_control` breakpoint whose prefix (tools, system, messages up
  to the marked block) reaches the model's minimum (`anthropic_min_tokens`) writes that prefix. A later request
  reads the longest prefix cached at one of its own content-block boundaries, looking back at most 20 blocks
  from each of its breakpoints, as Anthropic does. The tokens from there to the last cacheable breakpoint are
  reported as written, which the ledger prices at the cache-write rate.

Both are kept per org (the account's org; calls on the operator's own account share one scope) and per model,
and an entry lives five minutes after its last use: Anthropic's default lifetime, and the short end of the
five to ten idle minutes OpenAI gives.

Left out, so offline figures are a little better than a real bill on such traffic: OpenAI's overflow (past about
15 requests a minute for one prefix and key, requests spill to machines that have not cached it) and eviction
under load before an entry's lifetime ends. Anthropic's one-hour lifetime is not modelled either. The cache
lives in the process: gateways behind a load balancer each keep their own, where a provider keeps one.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from asahi.providers.base import Account
from asahi.providers.prompt_caching import OPENAI_MIN_TOKENS, Family, anthropic_min_tokens
from asahi.providers.simulator.prompt import CHARS_PER_TOKEN, Block

OPENAI_STEP_TOKENS = 128
ANTHROPIC_LOOKBACK_BLOCKS = 20
LIFETIME_SECONDS = 300.0
MAX_ENTRIES = 200_000  # about 36 MB (180 bytes an entry); the least recently used go first past it
OPERATOR = ""  # the scope of calls made on the operator's own account


@dataclass(frozen=True, slots=True)
class CacheUse:
    read: int = 0  # prompt tokens read from the cache
    written: int = 0  # prompt tokens written to it (billed only by Anthropic)


class PromptCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = MAX_ENTRIES) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._expiry: OrderedDict[bytes, float] = OrderedDict()  # prefix digest -> when it expires

    def use(
        self, family: Family, model: str, account: Account | None, blocks: list[Block], cache_key: str | None,
    ) -> CacheUse:
        """Read what `blocks` find cached and cache what they write, as `family`'s provider does."""
        now = self._clock()
        scope = f"{family}\x1f{OPERATOR if account is None else account.org_id}\x1f{model}"
        if family == "openai":
            return self._openai(f"{scope}\x1f{cache_key or ''}", blocks, now)
        return self._anthropic(scope, anthropic_min_tokens(model), blocks, now)

    def __len__(self) -> int:
        return len(self._expiry)

    def _openai(self, scope: str, blocks: list[Block], now: float) -> CacheUse:
        if sum(b.tokens for b in blocks) < OPENAI_MIN_TOKENS:
            return CacheUse()
        steps = [(tokens, digest) for tokens, digest in _step_digests(scope, blocks, OPENAI_STEP_TOKENS)
                 if tokens >= OPENAI_MIN_TOKENS]
        read = next((tokens for tokens, digest in reversed(steps) if self._alive(digest, now)), 0)
        for _, digest in steps:
            self._keep(digest, now)
        return CacheUse(read=read)

    def _anthropic(self, scope: str, minimum: int, blocks: list[Block], now: float) -> CacheUse:
        ends = _block_digests(scope, blocks)  # per content block: (tokens up to its end, digest), in order
        breakpoints = [i for i, (block, _) in enumerate(ends) if block.breakpoint]
        read = 0
        for last in breakpoints:
            for i in range(last, max(-1, last - ANTHROPIC_LOOKBACK_BLOCKS), -1):
                tokens, digest = ends[i][1]
                if self._alive(digest, now):
                    read = max(read, tokens)
                    self._keep(digest, now)
                    break
        cacheable = [ends[i][1] for i in breakpoints if ends[i][1][0] >= minimum]
        for _, digest in cacheable:
            self._keep(digest, now)
        written = max(0, cacheable[-1][0] - read) if cacheable else 0
        return CacheUse(read=read, written=written)

    def _alive(self, digest: bytes, now: float) -> bool:
        expires = self._expiry.get(digest)
        return expires is not None and expires > now

    def _keep(self, digest: bytes, now: float) -> None:
        self._expiry[digest] = now + LIFETIME_SECONDS
        self._expiry.move_to_end(digest)
        # Every entry lives as long after its last use, so the least recently used ones expire first.
        while self._expiry:
            oldest, expires = next(iter(self._expiry.items()))
            if expires > now and len(self._expiry) <= self._max_entries:
                break
            del self._expiry[oldest]


def _hasher(scope: str) -> hashlib.blake2b:
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(scope.encode() + b"\x1d")
    return hasher


def _step_digests(scope: str, blocks: list[Block], step: int) -> list[tuple[int, bytes]]:
    """(tokens, digest of the prompt up to there) at every multiple of `step` tokens the prompt reaches. Each
    character is hashed once, so a megabyte-long message costs a pass over it, not one per boundary."""
    hasher, start = _hasher(scope), 0
    found: list[tuple[int, bytes]] = []
    for block in blocks:
        end = start + block.tokens
        boundary = (start // step + 1) * step
        if boundary <= end and block.atomic:
            # A boundary inside markup or an image covers all of it: a prompt that shares part of one shares it
            # whole.
            whole = hasher.copy()
            whole.update(block.text.encode())
            digest = whole.digest()
            found.extend((b, digest) for b in range(boundary, end + 1, step))
        elif boundary <= end:
            # Inside text a boundary covers the characters of the tokens before it.
            inner, fed = hasher.copy(), 0
            for b in range(boundary, end + 1, step):
                upto = max(fed, (b - start) * CHARS_PER_TOKEN)
                inner.update(block.text[fed:upto].encode())
                fed = upto
                found.append((b, inner.copy().digest()))
        hasher.update(block.text.encode())
        start = end
    return found


def _block_digests(scope: str, blocks: list[Block]) -> list[tuple[Block, tuple[int, bytes]]]:
    hasher, tokens, found = _hasher(scope), 0, []
    for block in blocks:
        hasher.update(block.text.encode())
        tokens += block.tokens
        if block.content:
            found.append((block, (tokens, hasher.copy().digest())))
    return found
