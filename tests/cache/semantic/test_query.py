from __future__ import annotations

from asahi.cache.semantic.query import context_key, tier2_query
from asahi.domain import ChatRequest, ImagePart, Message, TextPart, Tool


def req(*turns: tuple[str, str], model: str = "gpt-4o", **kw: object) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message(r, [TextPart(t)]) for r, t in turns], **kw)  # type: ignore[arg-type]


def test_only_the_last_user_message_is_left_out_of_the_key() -> None:
    base = req(("system", "Be brief."), ("user", "hi"), ("assistant", "hello"), ("user", "reset password?"))
    same = req(("system", "Be brief."), ("user", "hi"), ("assistant", "hello"), ("user", "how to reset pw"))
    assert context_key("o", base) == context_key("o", same)
    for other in (
        req(("system", "Be long."), ("user", "hi"), ("assistant", "hello"), ("user", "reset password?")),
        req(("system", "Be brief."), ("user", "hey"), ("assistant", "hello"), ("user", "reset password?")),
        req(("system", "Be brief."), ("user", "hi"), ("assistant", "hello"), ("user", "x"), model="gpt-4o-mini"),
        req(("system", "Be brief."), ("user", "hi"), ("assistant", "hello"), ("user", "x"),
            tools=[Tool("f", None, {"type": "object"})]),
        req(("system", "Be brief."), ("user", "hi"), ("assistant", "hello"), ("user", "x"),
            response_format={"type": "json_object"}),
    ):
        assert context_key("o", other) != context_key("o", base)
    assert context_key("o", base) != context_key("p", base)
    assert context_key("o", base, route="class:cheap") == context_key("o", same, route="class:cheap")


def test_what_tier2_skips() -> None:
    assert tier2_query("o", req(("user", "What is a stray loss?"))) is not None
    assert tier2_query("o", req(("user", "   "))) is None
    assert tier2_query("o", req(("user", "x" * 9000))) is None
    assert tier2_query("o", req(("system", "only a system prompt"))) is None
    assert tier2_query("o", req(("user", "hi"), n=2)) is None
    image = ChatRequest(model="m", messages=[Message("user", [TextPart("what is this"), ImagePart(url="u")])])
    assert tier2_query("o", image) is None
