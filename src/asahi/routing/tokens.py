"""Token counts before a call, with OpenAI's own BPE tokenizer (tiktoken), available offline.

tiktoken downloads its encodings on first use, which fails without a network; its documented offline mode is a
cache folder holding each file under the SHA-1 of its URL. Asahi ships the two encodings current models use in
`encodings/` (o200k_base for gpt-4o, gpt-4.1, gpt-5 and the o-series; cl100k_base for gpt-4, gpt-3.5 and the
embedding models; 5.3 MB, checked against tiktoken's own SHA-256 on load) and points tiktoken at that folder while
it builds them. tiktoken is MIT-licensed and ~1 MB; the encodings are OpenAI's published files.

Counts are exact for OpenAI models. Other providers' tokenizers do not ship offline (Anthropic publishes none for
its current models), so their prompts are counted with o200k_base, a modern BPE of the same kind, which is far
closer than characters / 4 (docs/tokens.md has the measured error and the command). If the encodings cannot be
loaded, counting falls back to characters / 4 and says so once in the log.

Speed: ~17 MB/s of text on one core here, 4 µs for a short prompt. Counts are memoised by text (bounded in
characters), so the several estimates one request needs (the context check, routing, the budget) and a system
prompt repeated across requests cost one tokenisation. A text above `EXACT_CHARS` is counted on its first
`EXACT_CHARS` characters and extrapolated, which bounds the cost of a huge prompt.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

import tiktoken
from tiktoken.model import encoding_name_for_model

log = logging.getLogger(__name__)

ENCODINGS_DIR = Path(__file__).with_name("encodings")
DEFAULT_ENCODING = "o200k_base"
SHIPPED = frozenset({"o200k_base", "cl100k_base"})
CHARS_PER_TOKEN = 4  # the fallback when no tokenizer is available
EXACT_CHARS = 16_384  # longer texts are counted on this prefix and extrapolated (≤ ~1 ms a text)
MEMO_CHARS = 4_000_000  # characters of text whose counts are remembered
_building = threading.Lock()


def chars_estimate(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


@functools.cache
def encoding(name: str) -> tiktoken.Encoding | None:
    """One of the shipped encodings, built once per process; None (logged once) if it cannot be loaded."""
    if name not in SHIPPED:
        return None
    with _building:
        previous = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(ENCODINGS_DIR)
        try:
            built = tiktoken.get_encoding(name)
        except Exception as exc:  # noqa: BLE001  # a missing or altered file: count by characters instead
            log.warning("tokenizer %s unavailable (%s); token estimates fall back to characters / 4", name, exc)
            return None
        finally:
            if previous is None:
                del os.environ["TIKTOKEN_CACHE_DIR"]
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = previous
    # The Encoding keeps a Python copy of its ranks (28 MB resident for o200k_base) beside the Rust tokenizer built
    # from them (45 MB); tiktoken reads that copy only to pickle the Encoding, which Asahi never does.
    built._mergeable_ranks = {}
    return built


def encoding_name(model: str | None) -> str:
    """The encoding OpenAI's model uses; o200k_base for any other model (the closest offline stand-in)."""
    if model:
        try:
            name = encoding_name_for_model(model)
        except KeyError:
            return DEFAULT_ENCODING
        return name if name in SHIPPED else DEFAULT_ENCODING
    return DEFAULT_ENCODING


def is_exact(model: str) -> bool:
    """Whether counts for `model` are its provider's own (an OpenAI model tiktoken knows)."""
    try:
        return encoding_name_for_model(model) in SHIPPED
    except KeyError:
        return False


class TokenCounter:
    """Counts tokens of texts with one encoding, remembering recent texts' counts."""

    def __init__(self, name: str = DEFAULT_ENCODING, memo_chars: int = MEMO_CHARS) -> None:
        self.name = name
        self._memo: OrderedDict[str, int] = OrderedDict()
        self._memo_chars = memo_chars
        self._held = 0
        self._lock = threading.Lock()

    def count(self, text: str) -> int:
        if not text:
            return 0
        with self._lock:
            known = self._memo.get(text)
            if known is not None:
                self._memo.move_to_end(text)
                return known
        counted = self._count(text)
        if len(text) <= self._memo_chars // 16:
            with self._lock:
                if text not in self._memo:
                    self._memo[text] = counted
                    self._held += len(text)
                while self._held > self._memo_chars:
                    old, _ = self._memo.popitem(last=False)
                    self._held -= len(old)
        return counted

    def _count(self, text: str) -> int:
        bpe = encoding(self.name)
        if bpe is None:
            return chars_estimate(text)
        if len(text) <= EXACT_CHARS:
            return len(bpe.encode_ordinary(text))
        sample = len(bpe.encode_ordinary(text[:EXACT_CHARS]))
        return round(sample * len(text) / EXACT_CHARS)


@functools.cache
def counter(name: str = DEFAULT_ENCODING) -> TokenCounter:
    return TokenCounter(name)


def count_tokens(text: str, model: str | None = None) -> int:
    return counter(encoding_name(model)).count(text)
