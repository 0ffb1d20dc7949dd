"""The prompt-cache model: OpenAI's automatic 128-token steps, Anthropic's breakpoints, scopes and lifetimes."""

from __future__ import annotations

from asahi.domain import ChatRequest, Message, TextPart, Tool
from asahi.providers.base import Account
from asahi.providers.prompt_caching import anthropic_min_tokens
from asahi.providers.simulator.prompt import Block, read_prompt
from asahi.providers.simulator.prompt_cache import LIFETIME_SECONDS, PromptCache

GPT, SONNET, HAIKU = "asahi-sim-gpt-4o", "asahi-sim-claude-sonnet-4-5", "asahi-sim-claude-haiku-4-5"
ORG = Account("org-a")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def text_tokens(tokens: int, word: str = "abc ") -> str:
    """Text of exactly `tokens` simulator tokens (four characters each)."""
    return word * tokens


def prompt(*texts: str, marked: tuple[int, ...] = (), system_first: bool = False) -> list[Block]:
    messages = [Message("user", [TextPart(t, cache_control=i in marked)]) for i, t in enumerate(texts)]
    return read_prompt(ChatRequest(model="m", messages=messages), system_first=system_first)


def total(blocks: list[Block]) -> int:
    return sum(b.tokens for b in blocks)


def test_openai_caches_from_1024_tokens_in_128_token_steps() -> None:
    cache = PromptCache(Clock())
    short = prompt(text_tokens(900))
    assert cache.use("openai", GPT, ORG, short, None).read == 0
    assert cache.use("openai", GPT, ORG, short, None).read == 0  # below 1,024 tokens nothing is cached

    long = prompt(text_tokens(2000))
    assert cache.use("openai", GPT, ORG, long, None).read == 0
    again = cache.use("openai", GPT, ORG, long, None)
    assert again.read == total(long) // 128 * 128 and again.written == 0

    # A prompt that shares the first 1,500 tokens reads the steps up to there.
    shared = prompt(text_tokens(1500) + text_tokens(600, "xyz "))
    assert cache.use("openai", GPT, ORG, shared, None).read == (4 + 1500) // 128 * 128


def test_openai_routing_key_other_org_and_other_model_miss() -> None:
    cache = PromptCache(Clock())
    blocks = prompt(text_tokens(3000))
    cache.use("openai", GPT, ORG, blocks, "key-1")
    assert cache.use("openai", GPT, ORG, blocks, "key-2").read == 0
    assert cache.use("openai", GPT, Account("org-b"), blocks, "key-1").read == 0
    assert cache.use("openai", "asahi-sim-gpt-4o-mini", ORG, blocks, "key-1").read == 0
    assert cache.use("openai", GPT, None, blocks, "key-1").read == 0
    assert cache.use("openai", GPT, ORG, blocks, "key-1").read > 2900


def test_entries_live_five_minutes_after_their_last_use() -> None:
    clock = Clock()
    cache = PromptCache(clock)
    blocks = prompt(text_tokens(2000))
    cache.use("openai", GPT, ORG, blocks, None)
    clock.now += LIFETIME_SECONDS - 1
    assert cache.use("openai", GPT, ORG, blocks, None).read > 0  # a hit renews the lifetime
    clock.now += LIFETIME_SECONDS - 1
    assert cache.use("openai", GPT, ORG, blocks, None).read > 0
    clock.now += LIFETIME_SECONDS + 1
    assert cache.use("openai", GPT, ORG, blocks, None).read == 0


def test_anthropic_caches_only_marked_prefixes_and_bills_the_write() -> None:
    cache = PromptCache(Clock())
    unmarked = prompt(text_tokens(3000), "question")
    cache.use("anthropic", SONNET, ORG, unmarked, None)
    assert cache.use("anthropic", SONNET, ORG, unmarked, None).read == 0

    marked = prompt(text_tokens(3000), "question", marked=(0,))
    first = cache.use("anthropic", SONNET, ORG, marked, None)
    assert first.read == 0 and first.written == 4 + 3000
    second = cache.use("anthropic", SONNET, ORG, prompt(text_tokens(3000), "another", marked=(0,)), None)
    assert second.read == 4 + 3000 and second.written == 0


def test_anthropic_reads_the_longest_prefix_and_writes_up_to_the_last_breakpoint() -> None:
    cache = PromptCache(Clock())
    turn1 = prompt(text_tokens(1200), "first question", text_tokens(300), marked=(0, 2))
    written = cache.use("anthropic", SONNET, ORG, turn1, None)
    assert written.read == 0 and written.written == total(turn1)
    turn2 = prompt(text_tokens(1200), "first question", text_tokens(300), "second", text_tokens(50), marked=(0, 4))
    used = cache.use("anthropic", SONNET, ORG, turn2, None)
    # Found by looking back from the breakpoint at the end: the whole first turn, not only its system part.
    assert used.read == total(turn1) and used.written == total(turn2) - total(turn1)


def test_anthropic_looks_back_at_most_twenty_blocks() -> None:
    cache = PromptCache(Clock())
    head = [text_tokens(1100)]
    cache.use("anthropic", SONNET, ORG, prompt(*head, marked=(0,)), None)
    near = prompt(*head, *["more"] * 19, marked=(19,))
    far = prompt(*head, *["more"] * 21, marked=(21,))
    assert cache.use("anthropic", SONNET, ORG, far, None).read == 0
    assert cache.use("anthropic", SONNET, ORG, near, None).read == total(prompt(*head))


def test_anthropic_minimum_depends_on_the_model() -> None:
    assert anthropic_min_tokens(HAIKU) > anthropic_min_tokens(SONNET)
    cache = PromptCache(Clock())
    medium = prompt(text_tokens(1500), "question", marked=(0,))
    assert cache.use("anthropic", SONNET, ORG, medium, None).written > 0
    assert cache.use("anthropic", HAIKU, ORG, medium, None).written == 0
    assert cache.use("anthropic", HAIKU, ORG, medium, None).read == 0


def test_tools_come_first_in_the_cached_prefix() -> None:
    cache = PromptCache(Clock())
    tool = Tool("lookup", text_tokens(1500), {"type": "object"})
    question = ChatRequest(model="m", messages=[Message("user", [TextPart("hi", cache_control=True)])], tools=[tool])
    other = ChatRequest(model="m", messages=[Message("user", [TextPart("yo", cache_control=True)])], tools=[tool])
    cache.use("anthropic", SONNET, ORG, read_prompt(question, system_first=True), None)
    assert cache.use("anthropic", SONNET, ORG, read_prompt(other, system_first=True), None).read == 0
    assert cache.use("openai", GPT, ORG, read_prompt(question), None).read == 0
    assert cache.use("openai", GPT, ORG, read_prompt(other), None).read >= 1024  # the tool's prefix is shared


def test_the_least_recently_used_entries_go_past_the_bound() -> None:
    cache = PromptCache(Clock(), max_entries=30)
    for n in range(5):
        cache.use("openai", GPT, ORG, prompt(text_tokens(2000, f"w{n}  ")), None)
    assert len(cache) == 30
