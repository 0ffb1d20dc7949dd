"""Any OpenAI-compatible server (vLLM, Ollama, llama.cpp server, Groq) as a named provider.

They speak OpenAI's Chat Completions, so the OpenAI adapter serves them; one difference matters: many only read
`max_tokens`, not the newer `max_completion_tokens`. Local servers often need no key, and then none is sent.
"""

from __future__ import annotations

from asahi.providers.openai.adapter import OpenAIProvider


def compatible_provider(
    name: str, base_url: str, api_key: str | None = None, timeout: float = 120.0, pool_size: int = 100
) -> OpenAIProvider:
    return OpenAIProvider(api_key, base_url=base_url, name=name, timeout=timeout, max_tokens_field="max_tokens",
                          pool_size=pool_size)
