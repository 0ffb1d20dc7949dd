"""Which providers this process can call, built once from settings."""

from __future__ import annotations

from asahi.providers.base import Provider
from asahi.providers.compatible import compatible_provider
from asahi.providers.openai.adapter import OpenAIProvider
from asahi.providers.simulator import SimulatorProvider
from asahi.settings import Settings


def build_providers(settings: Settings) -> dict[str, Provider]:
    timeout = settings.config.routing.request_timeout_seconds
    providers: dict[str, Provider] = {}
    if settings.openai_api_key:
        providers["openai"] = OpenAIProvider(settings.openai_api_key, settings.openai_base_url, timeout=timeout)
    if settings.anthropic_api_key:
        from asahi.providers.anthropic.adapter import AnthropicProvider  # its SDK costs ~30 MB: only when used

        providers["anthropic"] = AnthropicProvider(
            settings.anthropic_api_key, settings.anthropic_base_url, timeout=timeout
        )
    for server in settings.config.compatible_providers:
        key = settings.environ.get(server.api_key_env) if server.api_key_env else None
        providers[server.name] = compatible_provider(server.name, str(server.base_url), key or None, timeout=timeout)
    simulator = settings.config.simulator
    providers["simulator"] = SimulatorProvider(latency_ms=simulator.latency_ms, output_tokens=simulator.output_tokens,
                                               prompt_caching=simulator.prompt_caching)
    return providers
