"""Anthropic Messages: the surface wire format, the client translation and the SDK adapter."""
