"""The model catalog: which models exist, who serves them, what they cost and what they can do.

Prices are USD per 1M tokens. A model without a known price keeps `None` prices so the ledger can mark its cost
incomplete instead of pretending it was free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asahi.config import CompatibleProvider, Config, SettingsError
from asahi.domain import Family

CAPABILITIES = frozenset({"tools", "vision", "json", "reasoning"})


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    provider: str
    input_price: float | None
    output_price: float | None
    cached_input_price: float | None
    cache_write_price: float | None
    context_window: int
    max_output_tokens: int
    capabilities: frozenset[str]
    quality: int
    stands_in_for: str | None = None
    # The wire format it speaks, which decides the provider-native fields it can take; None (a simulator model
    # standing in for nothing) takes every format's.
    family: Family | None = None

    @property
    def priced(self) -> bool:
        return self.input_price is not None and self.output_price is not None


def _price(name: str, entry: dict[str, Any], key: str) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or value < 0:
        raise SettingsError(f"config models.{name}.{key} must be a non-negative number")
    return float(value)


def _family(provider: str) -> Family | None:
    if provider == "simulator":
        return None
    return "anthropic" if provider == "anthropic" else "openai"


def model_info(name: str, entry: dict[str, Any], family: Family | None) -> ModelInfo:
    """One priced model entry, checked."""
    return _model(name, entry, None, family)


def _model(name: str, entry: dict[str, Any], base: dict[str, Any] | None, family: Family | None) -> ModelInfo:
    merged = {**(base or {}), **entry}
    provider = merged.get("provider")
    if not isinstance(provider, str) or not provider:
        raise SettingsError(f"config models.{name}.provider is required")
    capabilities = frozenset(merged.get("capabilities") or [])
    if unknown := capabilities - CAPABILITIES:
        raise SettingsError(f"config models.{name}.capabilities has unknown {sorted(unknown)}")
    input_price = _price(name, merged, "input")
    return ModelInfo(
        name=name,
        provider=provider,
        input_price=input_price,
        output_price=_price(name, merged, "output"),
        cached_input_price=_price(name, merged, "cached_input") if "cached_input" in merged else input_price,
        cache_write_price=_price(name, merged, "cache_write") if "cache_write" in merged else input_price,
        context_window=int(merged.get("context_window", 8192)),
        max_output_tokens=int(merged.get("max_output_tokens", 4096)),
        capabilities=capabilities,
        quality=int(merged.get("quality", 1)),
        stands_in_for=entry.get("stands_in_for"),
        family=family,
    )


class Catalog:
    """An immutable view of the configured models; reload by building a new one."""

    def __init__(self, models: dict[str, ModelInfo]) -> None:
        self._models = models

    @classmethod
    def from_config(cls, config: Config) -> Catalog:
        return cls.from_entries(config.models, config.compatible_providers)

    @classmethod
    def from_entries(
        cls, raw: dict[str, dict[str, Any]], compatible_providers: Sequence[CompatibleProvider] = ()
    ) -> Catalog:
        models: dict[str, ModelInfo] = {}
        for name, entry in raw.items():
            stands_in_for = entry.get("stands_in_for")
            base = None
            family = _family(str(entry.get("provider")))
            if stands_in_for is not None:
                base = {k: v for k, v in raw.get(stands_in_for, {}).items() if k != "provider"}
                if not base:
                    raise SettingsError(f"config models.{name}.stands_in_for names unknown model {stands_in_for}")
                family = _family(str(raw[stands_in_for].get("provider")))  # a faithful stand-in takes what it would
            models[name] = _model(name, entry, base, family)
        for server in compatible_providers:
            for name, entry in server.models.items():
                models[name] = _model(name, {**entry, "provider": server.name}, None, "openai")
        return cls(models)

    def get(self, name: str) -> ModelInfo | None:
        return self._models.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._models

    def models(self) -> list[ModelInfo]:
        return list(self._models.values())

    def served_by(self, providers: set[str]) -> list[ModelInfo]:
        return [m for m in self._models.values() if m.provider in providers]
