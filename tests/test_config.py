from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from asahi.config import SettingsError, load_config, merged


def overlay(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "asahi.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


def test_the_packaged_defaults_are_a_complete_config() -> None:
    config = load_config()
    assert config.cache.tier1.ttl_seconds > 0 and config.routing.quality_floor == 0.95
    assert "asahi-sim-gpt-4o-mini" in config.models


def test_an_overlay_holds_only_what_it_changes(tmp_path: Path) -> None:
    config = load_config(overlay(tmp_path, {"cache": {"tier1": {"ttl_seconds": 60}},
                                            "models": {"my-model": {"provider": "openai"}}}))
    assert config.cache.tier1.ttl_seconds == 60
    assert config.cache.tier1.memory_max_bytes == load_config().cache.tier1.memory_max_bytes
    assert {"my-model", "gpt-4o"} <= set(config.models)


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ({"cache": {"tier1": {"ttl_seconds": 0}}}, "config cache.tier1.ttl_seconds"),
        ({"cache": {"tier2": {"target_error_rate": "lots"}}}, "config cache.tier2.target_error_rate"),
        ({"routing": {"quality_floor": 2}}, "config routing.quality_floor"),
        ({"routing": {"typo_key": 1}}, "config routing.typo_key"),
        ({"compatible_providers": [{"name": "x", "base_url": "not a url", "models": {}}]},
         "config compatible_providers.0.base_url"),
    ],
)
def test_a_wrong_value_names_its_key(tmp_path: Path, content: object, key: str) -> None:
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        load_config(overlay(tmp_path, content))


def test_an_overlay_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="ASAHI_CONFIG"):
        load_config(overlay(tmp_path, [1, 2]))


def test_mappings_merge_and_other_values_replace() -> None:
    assert merged({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"c": [2]}, "d": {"e": 1}}) == {
        "a": {"b": 1, "c": [2]}, "d": {"e": 1}}


def test_the_example_overlay_in_the_repository_loads() -> None:
    example = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
    config = load_config(example)
    assert config.compatible_providers[0].name == "ollama" and config.routing.fallbacks["gpt-4o"]
