"""Field checks shared by the OpenAI and Anthropic surface parsers.

Request bodies arrive as plain dicts from orjson; checking them by hand is several times cheaper than building a
pydantic model per request. Every failure is a `BadRequest` naming the offending field in `param`, the way both
providers report it, so a client sees which part of its body was wrong.
"""

from __future__ import annotations

from typing import Any

from asahi.errors import BadRequest


def bad(param: str, message: str) -> BadRequest:
    return BadRequest(f"Invalid '{param}': {message}", param=param)


def mapping(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad(param, "expected an object.")
    return value


def array(value: Any, param: str) -> list[Any]:
    if not isinstance(value, list):
        raise bad(param, "expected an array.")
    return value


def string(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise bad(param, "expected a string.")
    return value


def opt_string(value: Any, param: str) -> str | None:
    return None if value is None else string(value, param)


def opt_bool(value: Any, param: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise bad(param, "expected a boolean.")
    return value


def opt_int(value: Any, param: str, minimum: int | None = None, maximum: int | None = None) -> int | None:
    if value is None:
        return None
    # bool is an int subclass; `true` is not a token count.
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(param, "expected an integer.")
    _bounds(value, param, minimum, maximum)
    return value


def opt_number(value: Any, param: str, minimum: float, maximum: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad(param, "expected a number.")
    _bounds(value, param, minimum, maximum)
    return float(value)


def _bounds(value: float, param: str, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise bad(param, f"must be >= {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise bad(param, f"must be <= {maximum}, got {value}.")


def split_data_url(url: str, param: str) -> tuple[str, str]:
    """`data:image/png;base64,AAAA` -> ("image/png", "AAAA")."""
    header, sep, data = url.partition(",")
    media_type = header[5:].removesuffix(";base64")
    if not sep or not header.endswith(";base64") or not media_type or not data:
        raise bad(param, "a data URL must look like data:<media type>;base64,<data>.")
    return media_type, data
