"""The built-in offline provider: deterministic, labelled answers for demos, tests and benchmarks.

It stands in for real models faithfully enough that clients and the ledger behave as they would online:
structured output validates against the requested schema (`instances`), tools are called by a stated rule
(`tool_use`), and provider prompt caching is billed as OpenAI and Anthropic bill it (`prompt_cache`).
"""

from asahi.providers.simulator.answers import LABEL
from asahi.providers.simulator.provider import SimulatorProvider

__all__ = ["LABEL", "SimulatorProvider"]
