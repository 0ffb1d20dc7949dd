"""What each provider's prompt cache does, as far as Asahi needs to know: whose cache a model uses, and how long a
prefix must be before it is cached.

Tier 3 (`asahi.cache.prefix`) prepares requests by these facts, and the simulator bills by them, so the two
always agree.
"""

from __future__ import annotations

import re
from typing import Literal

Family = Literal["openai", "anthropic"]
SIMULATOR = "simulator"

# Anthropic's smallest cacheable prefix per model family, in tokens. These are lower bounds: some models need
# more (Haiku 4.5 and Opus 4.5 take 4096), and a marker below a model's floor is ignored without error or cost.
ANTHROPIC_MIN_TOKENS = {"haiku": 2048}
ANTHROPIC_DEFAULT_MIN_TOKENS = 1024  # Sonnet and Opus
OPENAI_MIN_TOKENS = 1024  # OpenAI caches nothing shorter
_OPENAI_NAME = re.compile(r"(?:^|[-/])(?:gpt|chatgpt|o\d)(?:[-.]|$)")


def model_family(provider: str, model: str) -> Family | None:
    """Whose prompt cache applies to `model` served by `provider`: OpenAI's, Anthropic's, or none.

    A simulator model stands in for a real one and is named after it (`asahi-sim-claude-haiku-4-5`), so its name
    tells the family: `claude` is Anthropic's; `gpt`, `chatgpt` or an o-series name (`o3`, `o4-mini`) is
    OpenAI's; anything else has no prompt cache, like the OpenAI-compatible servers.
    """
    name = model.lower() if provider == SIMULATOR else ""
    if provider == "anthropic" or "claude" in name:
        return "anthropic"
    if provider == "openai" or _OPENAI_NAME.search(name):
        return "openai"
    return None


def anthropic_min_tokens(model: str) -> int:
    name = model.lower()
    return next((tokens for family, tokens in ANTHROPIC_MIN_TOKENS.items() if family in name),
                ANTHROPIC_DEFAULT_MIN_TOKENS)
