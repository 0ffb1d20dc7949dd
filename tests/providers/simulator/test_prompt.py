"""How the simulated model reads a prompt: token counts and the order each provider puts things in."""

from __future__ import annotations

from asahi.domain import ChatRequest, ImagePart, Message, TextPart, Tool, ToolCall
from asahi.providers.simulator.prompt import IMAGE_TOKENS, MESSAGE_TOKENS, PRIMING_TOKENS, input_tokens, read_prompt


def test_tokens_are_four_characters_plus_markup() -> None:
    request = ChatRequest(model="m", messages=[Message("user", [TextPart("x" * 400)])])
    assert input_tokens(read_prompt(request)) == 100 + MESSAGE_TOKENS + PRIMING_TOKENS


def test_images_tools_and_calls_count() -> None:
    call = ToolCall("c1", "lookup", '{"q": "' + "y" * 40 + '"}')
    request = ChatRequest(model="m", tools=[Tool("lookup", "Looks things up.", {"type": "object"})], messages=[
        Message("user", [TextPart("see"), ImagePart(url="https://example.com/a.png")]),
        Message("assistant", [], [call])])
    blocks = read_prompt(request)
    assert blocks[0].text.startswith("\x1etool") and blocks[0].tokens > 5
    assert sum(b.tokens for b in blocks if b.text.startswith("\x1eimage")) == IMAGE_TOKENS
    assert blocks[-1].tokens == 2 + 13  # the call's name (6 characters) and arguments (49)


def test_anthropic_reads_system_messages_first_and_keeps_breakpoints() -> None:
    request = ChatRequest(model="m", messages=[Message("user", [TextPart("question")]),
                                               Message("system", [TextPart("rules", cache_control=True)])])
    in_order = [b.text for b in read_prompt(request) if b.content]
    system_first = [b for b in read_prompt(request, system_first=True) if b.content]
    assert in_order == ["question", "rules"]
    assert [b.text for b in system_first] == ["rules", "question"] and system_first[0].breakpoint
