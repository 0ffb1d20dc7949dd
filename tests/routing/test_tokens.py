from __future__ import annotations

import logging

import pytest

from asahi.routing import tokens
from asahi.routing.tokens import TokenCounter, count_tokens, encoding_name, is_exact


def test_openai_models_count_with_their_own_encoding() -> None:
    assert encoding_name("gpt-4o-mini") == encoding_name("gpt-5") == "o200k_base"
    assert encoding_name("gpt-4") == encoding_name("text-embedding-3-small") == "cl100k_base"
    assert is_exact("gpt-4.1") and not is_exact("claude-haiku-4-5")
    # Known ids from tiktoken's own test vectors.
    o200k = tokens.encoding("o200k_base")
    cl100k = tokens.encoding("cl100k_base")
    assert o200k is not None and cl100k is not None
    assert cl100k.encode_ordinary("hello world") == [15339, 1917]
    assert o200k.encode_ordinary("hello world") == [24912, 2375]


def test_other_models_count_with_o200k_never_characters() -> None:
    assert encoding_name("claude-haiku-4-5") == encoding_name(None) == "o200k_base"
    text = "The quick brown fox jumps over the lazy dog."
    assert count_tokens(text, "claude-haiku-4-5") == count_tokens(text, "gpt-4o") == 10


def test_the_tokenizer_is_loaded_offline_without_leaving_settings_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    assert "TIKTOKEN_CACHE_DIR" not in os.environ
    assert tokens.encoding("o200k_base") is not None


def test_a_missing_encoding_falls_back_to_characters_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    tokens.encoding.cache_clear()
    monkeypatch.setattr(tokens, "ENCODINGS_DIR", tmp_path)
    monkeypatch.setattr("tiktoken.load.read_file", _offline)
    monkeypatch.setattr("tiktoken.registry.ENCODINGS", {})
    try:
        counter = TokenCounter("o200k_base")
        assert counter.count("a" * 41) == 11
        assert counter.count("b" * 41) == 11
        assert sum("fall back to characters / 4" in m for m in caplog.messages) == 1
    finally:
        tokens.encoding.cache_clear()


def _offline(path: str) -> bytes:
    raise OSError(f"no network for {path}")


def test_counts_are_remembered_within_a_character_bound() -> None:
    counter = TokenCounter("o200k_base", memo_chars=320)
    for i in range(40):
        counter.count(f"text number {i}")
    assert 0 < counter._held <= 320
    assert counter.count("text number 39") == TokenCounter("o200k_base").count("text number 39") == 4


def test_a_huge_text_is_extrapolated_from_its_prefix() -> None:
    counter = TokenCounter("o200k_base")
    exact = counter.count("lorem ipsum dolor sit amet " * 2000)
    huge = counter.count("lorem ipsum dolor sit amet " * 20000)
    assert huge == pytest.approx(exact * 10, rel=0.01)
