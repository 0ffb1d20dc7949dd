"""Tier 3: where Anthropic breakpoints go, when OpenAI gets a prompt_cache_key, and what is left alone."""

from __future__ import annotations

from asahi.cache.prefix import apply_prefix_caching, prompt_cache_key
from asahi.domain import ChatRequest, ImagePart, Message, Part, TextPart, Tool, ToolCall
from asahi.providers.anthropic.upstream import to_wire as anthropic_wire
from asahi.providers.openai.upstream import to_wire as openai_wire
from asahi.providers.prompt_caching import anthropic_min_tokens

LONG = "policy " * 2400  # about 2400 tokens: cacheable on every model
MEDIUM = "policy " * 1400  # about 1400 tokens: enough for Sonnet and Opus, not for Haiku
SONNET, HAIKU = "claude-sonnet-4-5", "claude-haiku-4-5"


def text(role: str, value: str, cached: bool = False) -> Message:
    return Message(role, [TextPart(value, cache_control=cached)])  # type: ignore[arg-type]


def ask(*messages: Message, tools: list[Tool] | None = None) -> ChatRequest:
    return ChatRequest(model="asahi/auto", messages=list(messages), tools=tools or [])


def markers(request: ChatRequest) -> list[tuple[int, int]]:
    """(message index, part index) of every marked text part."""
    return [(i, j) for i, m in enumerate(request.messages) for j, p in enumerate(m.content)
            if isinstance(p, TextPart) and p.cache_control]


def test_long_system_prompt_is_marked_at_its_end() -> None:
    request = ask(Message("system", [TextPart("You are helpful."), TextPart(LONG)]), text("user", "Hi"))
    marked = apply_prefix_caching(request, "org1", "anthropic", SONNET)
    assert markers(marked) == [(0, 1)]
    assert markers(request) == []  # the caller's request is not changed
    sent = anthropic_wire(marked, SONNET, stream=False)
    assert sent["system"][1]["cache_control"] == {"type": "ephemeral"} and "cache_control" not in sent["system"][0]
    assert all("cache_control" not in block for turn in sent["messages"] for block in turn["content"])


def test_short_prompts_are_left_alone() -> None:
    request = ask(text("system", "Be brief."), text("user", "Hi"))
    assert apply_prefix_caching(request, "org1", "anthropic", SONNET) is request
    assert apply_prefix_caching(request, "org1", "openai", "gpt-4o") is request


def test_the_minimum_depends_on_the_model() -> None:
    assert anthropic_min_tokens(HAIKU) > anthropic_min_tokens(SONNET)
    request = ask(text("system", MEDIUM), text("user", "Hi"))
    assert markers(apply_prefix_caching(request, "org1", "anthropic", SONNET)) == [(0, 0)]
    assert apply_prefix_caching(request, "org1", "anthropic", HAIKU) is request
    # Without an upstream model the request's own model name decides.
    haiku = ChatRequest(model=HAIKU, messages=request.messages)
    assert apply_prefix_caching(haiku, "org1", "anthropic") is haiku
    sonnet = ChatRequest(model=SONNET, messages=request.messages)
    assert markers(apply_prefix_caching(sonnet, "org1", "anthropic")) == [(0, 0)]


def test_tool_definitions_count_towards_the_prefix() -> None:
    big = Tool("lookup", LONG, {"type": "object", "properties": {}})
    request = ask(text("system", "Use the tool."), text("user", "Hi"), tools=[big])
    assert markers(apply_prefix_caching(request, "org1", "anthropic", SONNET)) == [(0, 0)]


def test_conversation_so_far_gets_its_own_breakpoint() -> None:
    request = ask(
        text("system", LONG),
        text("user", "First question " + MEDIUM),
        Message("assistant", [TextPart("Let me look.")], [ToolCall("call_1", "lookup", "{}")]),
        Message("tool", [TextPart("found it")], tool_call_id="call_1"),
        Message("assistant", [TextPart("")], [ToolCall("call_2", "lookup", "{}")]),  # no text to mark
        Message("tool", [TextPart("done")], tool_call_id="call_2"),
        text("user", "And now?"),
    )
    marked = apply_prefix_caching(request, "org1", "anthropic", SONNET)
    # The end of the system prompt, and the last text before the newest turn (tool results and question).
    assert markers(marked) == [(0, 0), (3, 0)]
    results = anthropic_wire(marked, SONNET, stream=False)["messages"][2]["content"]
    assert results[0]["content"][0]["cache_control"] == {"type": "ephemeral"}


def test_history_alone_can_be_long_enough() -> None:
    request = ask(text("user", LONG), text("assistant", "Noted."), text("user", "Summarise it."))
    assert markers(apply_prefix_caching(request, "org1", "anthropic", SONNET)) == [(1, 0)]


def test_system_messages_are_counted_where_anthropic_puts_them() -> None:
    # A late system message is still sent first: the prefix before the newest turn is system + history.
    request = ask(text("user", "Hi"), text("assistant", "Hello."), text("system", LONG), text("user", "Go on"))
    assert markers(apply_prefix_caching(request, "org1", "anthropic", SONNET)) == [(1, 0), (2, 0)]


def test_images_and_empty_text_never_carry_the_marker() -> None:
    parts: list[Part] = [TextPart(LONG), ImagePart(url="https://x/a.png"), TextPart("")]
    request = ask(Message("system", parts[:1]), Message("user", parts), text("assistant", ""), text("user", "?"))
    assert markers(apply_prefix_caching(request, "org1", "anthropic", SONNET)) == [(0, 0), (1, 0)]


def test_caller_breakpoints_stay_and_count_against_the_limit_of_four() -> None:
    own = ask(text("system", LONG, cached=True), text("user", "Hi"))
    assert apply_prefix_caching(own, "org1", "anthropic", SONNET) is own
    crowded = ask(
        Message("system", [TextPart("a", True), TextPart("b", True), TextPart("c", True), TextPart(LONG)]),
        text("user", MEDIUM), text("assistant", "ok"), text("user", "next"),
    )
    marked = apply_prefix_caching(crowded, "org1", "anthropic", SONNET)
    assert markers(marked) == [(0, 0), (0, 1), (0, 2), (0, 3)]  # one slot left: the system prompt took it
    caller_marked: list[Part] = [TextPart(str(i), True) for i in range(4)]
    full = ask(Message("system", [*caller_marked, TextPart(LONG)]), text("user", "?"))
    assert apply_prefix_caching(full, "org1", "anthropic", SONNET) is full


def test_openai_gets_a_stable_prompt_cache_key() -> None:
    request = ask(text("system", LONG), text("user", "Question one"))
    keyed = apply_prefix_caching(request, "org1", "openai", "gpt-4o")
    assert keyed.prompt_cache_key is not None and request.prompt_cache_key is None
    assert markers(keyed) == []  # OpenAI caches by itself; markers are Anthropic's
    assert openai_wire(keyed, "gpt-4o", stream=False)["prompt_cache_key"] == keyed.prompt_cache_key
    assert "prompt_cache_key" not in openai_wire(request, "gpt-4o", stream=False)
    other_question = ask(text("system", LONG), text("user", "Question two"))
    next_turn = ask(text("system", LONG), text("user", "Question one"), text("assistant", "A"),
                    text("user", "Question two"))
    assert prompt_cache_key(other_question, "org1") == prompt_cache_key(next_turn, "org1") == keyed.prompt_cache_key
    assert prompt_cache_key(request, "org2") != keyed.prompt_cache_key  # per org
    assert "org1" not in keyed.prompt_cache_key
    other_prompt = ask(text("system", LONG + "!"), text("user", "Question one"))
    assert prompt_cache_key(other_prompt, "org1") != keyed.prompt_cache_key
    tools = ask(text("system", LONG), text("user", "Question one"), tools=[Tool("t", None, {"b": 1, "a": 2})])
    reordered = ask(text("system", LONG), text("user", "Question one"), tools=[Tool("t", None, {"a": 2, "b": 1})])
    assert prompt_cache_key(tools, "org1") == prompt_cache_key(reordered, "org1") != keyed.prompt_cache_key


def test_without_tools_or_system_the_opening_turn_keys_the_prompt() -> None:
    document = ask(text("user", LONG), text("assistant", "Read it."), text("user", "Summarise."))
    later = ask(text("user", LONG), text("assistant", "Read it."), text("user", "Summarise."),
                text("assistant", "..."), text("user", "Shorter."))
    assert apply_prefix_caching(document, "org1", "openai", "gpt-4o").prompt_cache_key == prompt_cache_key(
        later, "org1") != prompt_cache_key(ask(text("user", LONG + "?")), "org1")


def test_a_callers_key_and_other_providers_are_left_alone() -> None:
    request = ask(text("system", LONG), text("user", "Hi"))
    own = ChatRequest(model="gpt-4o", messages=request.messages, prompt_cache_key="mine")
    assert apply_prefix_caching(own, "org1", "openai", "gpt-4o") is own
    # OpenAI-compatible servers have no such field, nor a simulator model standing in for none of the two.
    assert apply_prefix_caching(request, "org1", "ollama", "llama3.1:8b") is request
    assert apply_prefix_caching(request, "org1", "simulator", "asahi-sim-llama-3") is request


def test_simulator_models_get_what_the_model_they_stand_in_for_gets() -> None:
    request = ask(text("system", LONG), text("user", "Hi"))
    assert apply_prefix_caching(request, "org1", "simulator", "asahi-sim-gpt-4o") == apply_prefix_caching(
        request, "org1", "openai", "gpt-4o")
    assert apply_prefix_caching(request, "org1", "simulator", "asahi-sim-claude-sonnet-4-5") == apply_prefix_caching(
        request, "org1", "anthropic", SONNET)
    medium = ask(text("system", MEDIUM), text("user", "Hi"))
    assert apply_prefix_caching(medium, "org1", "simulator", "asahi-sim-claude-haiku-4-5") is medium
