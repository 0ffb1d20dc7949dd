"""Asahi: an LLM cost-optimization gateway."""

__version__ = "0.1.0"
