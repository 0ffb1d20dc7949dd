"""Server-sent events, read incrementally from a byte stream (the `text/event-stream` framing both providers use).

Only what providers send is handled: `event:` and `data:` fields, multi-line data joined with newlines,
comments (`:` lines, used as keep-alives) skipped, and an event dispatched at each blank line.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerEvent:
    event: str | None
    data: bytes


async def server_events(lines: AsyncIterable[bytes]) -> AsyncIterator[ServerEvent]:
    """`lines`: the body split at newlines (aiohttp's `response.content` iterates that way)."""
    event: str | None = None
    data: list[bytes] = []
    async for raw in lines:
        line = raw.rstrip(b"\r\n")
        if not line:
            if data:
                yield ServerEvent(event, b"\n".join(data))
            event, data = None, []
        elif line.startswith(b"data:"):
            data.append(line[6:] if line[5:6] == b" " else line[5:])
        elif line.startswith(b"event:"):
            event = line[6:].strip().decode()
        # `id:`, `retry:` and `:` comments carry nothing a completion needs.
    if data:
        yield ServerEvent(event, b"\n".join(data))
