from __future__ import annotations

import pytest

from asahi.governance import keys


def test_a_generated_key_carries_its_prefix_and_matches_only_its_digest() -> None:
    new = keys.generate()
    assert keys.parse_prefix(new.plaintext) == new.prefix
    assert keys.matches(keys.digest(new.plaintext), new.digest)
    assert not keys.matches(keys.digest(new.plaintext + "x"), new.digest)
    assert keys.generate().plaintext != new.plaintext


@pytest.mark.parametrize("key", ["", "sk-abc", "asahi_short_x", "asahi__secret", "other_0123456789ab_x"])
def test_malformed_keys_have_no_prefix(key: str) -> None:
    assert keys.parse_prefix(key) is None


def test_scopes_are_checked_and_admin_implies_the_rest() -> None:
    assert keys.parse_scopes("infer, analytics") == {"infer", "analytics"}
    with pytest.raises(ValueError, match="unknown"):
        keys.parse_scopes(["infer", "root"])
    with pytest.raises(ValueError, match="at least one"):
        keys.parse_scopes([" "])
