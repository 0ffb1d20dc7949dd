"""Which providers this process can call, built once from settings."""

from __future__ import annotations

from typing import Any

from asahi.providers.base import Provider
from asahi.providers.compatible import compatible_provider
from asahi.providers.openai.adapter import OpenAIProvider
from asahi.providers.simulator import SimulatorProvider
from asahi.settings import Settings, SettingsError


def build_providers(settings: Settings) -> dict[str, Provider]:
    routing = settings.section("routing")
    timeout = float(routing.get("request_timeout_seconds", 120))
    providers: dict[str, Provider] = {}
    if settings.openai_api_key:
        providers["openai"] = OpenAIProvider(settings.openai_api_key, settings.openai_base_url, timeout=timeout)
    if settings.anthropic_api_key:
        from asahi.providers.anthropic.adapter import AnthropicProvider  # its SDK costs ~30 MB: only when used

        providers["anthropic"] = AnthropicProvider(
            settings.anthropic_api_key, settings.anthropic_base_url, timeout=timeout
        )
    for server in settings.config.get("compatible_providers") or []:
        providers[_name(server)] = compatible_provider(
            _name(server), str(server["base_url"]),
            settings.environ.get(str(server.get("api_key_env", ""))) or None, timeout=timeout,
        )
    simulator = settings.section("simulator")
    providers["simulator"] = SimulatorProvider(
        latency_ms=float(simulator.get("latency_ms", 0)), output_tokens=int(simulator.get("output_tokens", 48)),
        prompt_caching=bool(simulator.get("prompt_caching", True)),
    )
    return providers


def _name(server: dict[str, Any]) -> str:
    name = server.get("name")
    if not isinstance(name, str) or not name or "base_url" not in server:
        raise SettingsError("config compatible_providers entries need a name and a base_url")
    return name
