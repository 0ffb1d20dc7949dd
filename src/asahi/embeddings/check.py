"""The embedder tried once at start-up, so a wrong key is seen at boot with its reason, not at the first request.

A rejected key (401/403) will not heal by itself: the caller switches to the local model and says why, in the log
and in `/health`. An unreachable provider may come back: it is kept, reported, and tier 2 skips requests while it
stays down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from asahi.embeddings.base import Embedder, EmbeddingError, KeyRejected

PROBE = "Asahi start-up check"


@dataclass(frozen=True, slots=True)
class EmbedderCheck:
    embedder: str
    status: Literal["ok", "rejected", "unreachable"]
    reason: str | None = None

    def describe(self) -> dict[str, str | None]:
        return {"embedder": self.embedder, "status": self.status, "reason": self.reason}


async def check_embedder(embedder: Embedder) -> EmbedderCheck:
    try:
        await embedder.embed([PROBE])
    except KeyRejected as exc:
        return EmbedderCheck(embedder.name, "rejected", str(exc))
    except EmbeddingError as exc:
        return EmbedderCheck(embedder.name, "unreachable", str(exc))
    return EmbedderCheck(embedder.name, "ok")
