"""A deterministic JSON value valid against a JSON Schema: the simulator's structured answers and tool arguments.

Covers what structured-output clients send (OpenAI strict schemas, Pydantic's and Zod's): `type` (one or
several), `const`, `enum`; objects (`properties`, `required`, `additionalProperties`, `minProperties` /
`maxProperties`); arrays (`items`, `prefixItems`, `minItems` / `maxItems`, `uniqueItems`, `contains`); strings
(`minLength` / `maxLength`, `format`, `pattern`); numbers (bounds, exclusive bounds, `multipleOf`); `$ref` into
the same document (`$defs`, `definitions`, recursive models included); `allOf`, merged; and `anyOf` / `oneOf`,
taking the first branch that fits: one whose type agrees with the keywords beside the union and, for `oneOf`,
whose value no other branch also accepts (how Pydantic's tagged unions tell their branches apart).

Every property is filled in, each array gets two items unless its bounds say otherwise. Inside a recursive model
(a reference met again) and past a nesting depth, only required properties, the fewest items allowed and, in
unions, a branch that ends the recursion (`null` first) are generated, so answers stay small and always end.

Values come from a seed: the same request gets the same value, different requests different ones. Free-text
strings carry the label the caller passes, as far as their length allows, so a structured answer cannot pass for
a model's; the label never becomes a field of its own, which `additionalProperties: false` and strict client
models would refuse.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

import rstr

Schema = dict[str, Any]

FULL_DEPTH = 6  # nesting levels generated in full; deeper ones take the shortest way out
GIVE_UP_DEPTH = 64  # a schema that cannot end (a required property that is always itself) stops here with null
DEFAULT_ITEMS = 2
_MAX_REFS = 64
_TYPE_KEYWORDS = (
    ("object", ("properties", "required", "additionalProperties", "minProperties", "maxProperties")),
    ("array", ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains")),
    ("string", ("minLength", "maxLength", "pattern", "format")),
    ("number", ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")),
)
_LOWER_BOUNDS = frozenset({"minimum", "minLength", "minItems", "minProperties"})
_UPPER_BOUNDS = frozenset({"maximum", "maxLength", "maxItems", "maxProperties"})


def instance(schema: Any, seed: int, label: str) -> Any:
    """A value `schema` accepts, the same for the same seed."""
    root = schema if isinstance(schema, dict) else {}
    return _Generator(root, seed, label).value(root, _Spot())


def _date(n: int) -> str:
    return f"2025-{1 + n // 28 % 12:02d}-{1 + n % 28:02d}"


def _time(n: int) -> str:
    return f"{n % 24:02d}:{n // 24 % 60:02d}:00Z"


_FORMATS: dict[str, Callable[[int], str]] = {
    "date": _date,
    "time": _time,
    "date-time": lambda n: f"{_date(n)}T{_time(n // 7)}",
    "duration": lambda n: f"P{1 + n % 30}D",
    "email": lambda n: f"sim{n % 10000}@example.com",
    "idn-email": lambda n: f"sim{n % 10000}@example.com",
    "hostname": lambda n: f"sim-{n % 10000}.example.com",
    "idn-hostname": lambda n: f"sim-{n % 10000}.example.com",
    "ipv4": lambda n: f"192.0.2.{1 + n % 254}",
    "ipv6": lambda n: f"2001:db8::{1 + n % 65535:x}",
    "uri": lambda n: f"https://example.com/asahi-simulator/{n % 10000}",
    "iri": lambda n: f"https://example.com/asahi-simulator/{n % 10000}",
    "uri-reference": lambda n: f"/asahi-simulator/{n % 10000}",
    "iri-reference": lambda n: f"/asahi-simulator/{n % 10000}",
    "uri-template": lambda n: "https://example.com/asahi-simulator/{id}",
    "uuid": lambda n: str(uuid.UUID(int=n << 64 | n, version=4)),
    "json-pointer": lambda n: f"/asahi-simulator/{n % 100}",
    "relative-json-pointer": lambda n: f"{n % 3}/asahi-simulator",
    "regex": lambda n: "^asahi-simulator$",
}


@dataclass(frozen=True, slots=True)
class _Spot:
    """Where in the value the generator is, and whether it should take the shortest way out from there."""

    path: str = "$"  # seeds the values here, so siblings differ
    hint: str = "value"  # the nearest property name, for readable strings
    depth: int = 0
    refs: frozenset[str] = frozenset()  # the references followed to get here
    short: bool = False  # inside a recursion or past FULL_DEPTH

    def child(self, step: str, hint: str | None = None) -> _Spot:
        depth = self.depth + 1
        return _Spot(f"{self.path}{step}", hint or self.hint, depth, self.refs, self.short or depth >= FULL_DEPTH)


class _Generator:
    def __init__(self, root: Schema, seed: int, label: str) -> None:
        self._root = root
        self._seed = seed
        self._label = label

    def value(self, raw: Any, spot: _Spot) -> Any:
        schema, followed = self._resolve(raw)
        if followed:
            # Meeting a reference again means a recursive model: its inner copies are kept as small as allowed.
            spot = replace(spot, refs=spot.refs | followed, short=spot.short or bool(followed & spot.refs))
        if spot.depth > GIVE_UP_DEPTH:
            return None
        seed = self._seed_for(spot.path)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            options = schema["enum"]
            return options[seed % len(options)]
        for union in ("oneOf", "anyOf"):
            if isinstance(schema.get(union), list) and schema[union]:
                return self._union(schema, union, spot)
        kind = _pick_type(schema, spot.short)
        if kind == "object":
            return self._object(schema, spot)
        if kind == "array":
            return self._array(schema, spot)
        if kind == "string":
            return self._string(schema, seed, spot.hint)
        if kind in ("integer", "number"):
            return _number(schema, seed, integer=kind == "integer")
        if kind == "boolean":
            return seed % 2 == 0
        return None

    def _seed_for(self, path: str) -> int:
        digest = hashlib.blake2b(f"{self._seed}\x1f{path}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    def _resolve(self, raw: Any) -> tuple[Schema, frozenset[str]]:
        """The schema with its `$ref` followed (keywords beside it kept) and its `allOf` merged in, and the
        references followed on the way."""
        schema: Schema = raw if isinstance(raw, dict) else {}
        followed: set[str] = set()
        for _ in range(_MAX_REFS):
            ref = schema.get("$ref")
            if not isinstance(ref, str):
                break
            followed.add(ref)
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = _merge(self._pointer(ref), siblings)
        parts = schema.get("allOf")
        if isinstance(parts, list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in parts:
                resolved, more = self._resolve(part)
                merged = _merge(merged, resolved)
                followed |= more
            schema = merged
        return schema, frozenset(followed)

    def _pointer(self, ref: str) -> Schema:
        """The part of this document a local `$ref` names; anything else (a remote document) allows anything."""
        if not ref.startswith("#"):
            return {}
        node: Any = self._root
        for token in filter(None, unquote(ref[1:]).split("/")):
            key = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                return {}
        return node if isinstance(node, dict) else {}

    def _union(self, schema: Schema, union: str, spot: _Spot) -> Any:
        beside = {k: v for k, v in schema.items() if k != union}
        branches = list(schema[union])
        order = list(range(len(branches)))
        if spot.short:
            order.sort(key=lambda i: _ending_rank(self._resolve(branches[i])[0]))
        first: Any = None
        for position, i in enumerate(order):
            resolved, followed = self._resolve(branches[i])
            merged = _merge(beside, resolved)
            if merged.get("type") == []:
                continue  # this branch's type contradicts the keywords beside the union
            branch_spot = replace(spot, refs=spot.refs | followed, short=spot.short or bool(followed & spot.refs))
            candidate = self.value(merged, branch_spot)
            if position == 0:
                first = candidate
            if union == "anyOf" or not any(self.accepts(b, candidate) for j, b in enumerate(branches) if j != i):
                return candidate
        return first

    def _object(self, schema: Schema, spot: _Spot) -> dict[str, Any]:
        properties = _properties(schema)
        required = [r for r in schema.get("required") or [] if isinstance(r, str)]
        names = [r for r in required if r not in properties]
        names += [n for n in properties if n in required or not spot.short]
        most = schema.get("maxProperties")
        if isinstance(most, int) and len(names) > most:
            names = names[: max(most, len(required))]  # required names come first
        extra = schema.get("additionalProperties", True)
        extra_schema = extra if isinstance(extra, dict) else {}
        least = schema.get("minProperties", 0)
        spare = [n for n in properties if n not in names]
        while isinstance(least, int) and len(names) < least and (spare or extra is not False):
            names.append(spare.pop(0) if spare else f"extra_{len(names)}")
        return {name: self.value(properties.get(name, extra_schema), spot.child(f".{name}", name)) for name in names}

    def _array(self, schema: Schema, spot: _Spot) -> list[Any]:
        raw_items = schema.get("items")
        prefix = schema.get("prefixItems") or (raw_items if isinstance(raw_items, list) else [])
        items = schema.get("additionalItems", {}) if isinstance(raw_items, list) else raw_items
        least = schema.get("minItems", 0) if isinstance(schema.get("minItems"), int) else 0
        most = schema.get("maxItems") if isinstance(schema.get("maxItems"), int) else None
        count = least if spot.short else max(least, DEFAULT_ITEMS, len(prefix))
        if items is False:
            count = min(count, len(prefix))
        if most is not None:
            count = min(count, most)
        unique = schema.get("uniqueItems") is True
        values: list[Any] = []
        for i in range(count):
            item = prefix[i] if i < len(prefix) else (items if isinstance(items, dict) else {})
            value = self.value(item, spot.child(f"[{i}]"))
            retry = 0
            while unique and _contains(values, value) and retry < 8:
                retry += 1
                value = self.value(item, spot.child(f"[{i}]~{retry}"))
            if unique and _contains(values, value):
                break  # no other value to give: as many as there are, which may still meet minItems
            values.append(value)
        contains = schema.get("contains")
        if isinstance(contains, dict) and not any(self.accepts(contains, v) for v in values):
            wanted = self.value(_merge(items if isinstance(items, dict) else {}, self._resolve(contains)[0]),
                                spot.child("[contains]"))
            values = [wanted, *values][: most if most is not None else None]
        return values

    def _string(self, schema: Schema, seed: int, hint: str) -> str:
        made = _FORMATS.get(str(schema.get("format")))
        least = schema.get("minLength", 0) if isinstance(schema.get("minLength"), int) else 0
        most = schema.get("maxLength") if isinstance(schema.get("maxLength"), int) else None
        text = made(seed) if made else f"{self._label} {hint[:40]} {seed % 65536:04x}"
        if made is None:
            if most is not None and len(text) > most:
                text = f"sim-{seed % 65536:04x}"[:most]
            text += "x" * max(0, least - len(text))
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and not _search(pattern, text):
            text = _from_pattern(pattern, seed, least, most) or text
        return text

    def accepts(self, raw: Any, value: Any, depth: int = 0) -> bool:
        """A quick, partial check (type, const, enum, required and known properties, items, unions): enough to
        tell the branches of a union apart, not a validator."""
        schema = self._resolve(raw)[0]
        if depth > FULL_DEPTH:
            return True
        if "const" in schema and not _same(schema["const"], value):
            return False
        if isinstance(schema.get("enum"), list) and not any(_same(e, value) for e in schema["enum"]):
            return False
        types = schema.get("type")
        if types is not None and not any(_is_type(value, t) for t in (types if isinstance(types, list) else [types])):
            return False
        if isinstance(value, dict):
            properties = _properties(schema)
            if any(name not in value for name in schema.get("required") or []):
                return False
            if schema.get("additionalProperties") is False and any(name not in properties for name in value):
                return False
            if any(name in properties and not self.accepts(properties[name], v, depth + 1)
                   for name, v in value.items()):
                return False
        items = schema.get("items")
        if isinstance(value, list) and isinstance(items, dict) and not all(self.accepts(items, v, depth + 1)
                                                                           for v in value):
            return False
        return all(not isinstance(schema.get(u), list) or any(self.accepts(b, value, depth + 1) for b in schema[u])
                   for u in ("anyOf", "oneOf"))


def _properties(schema: Schema) -> Schema:
    properties = schema.get("properties")
    return properties if isinstance(properties, dict) else {}


def _pick_type(schema: Schema, shortest: bool) -> str:
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared
    if isinstance(declared, list):
        if not declared:
            return "null"
        if shortest and "null" in declared:
            return "null"
        return next((t for t in declared if t != "null"), "null")
    return next((kind for kind, keywords in _TYPE_KEYWORDS if any(k in schema for k in keywords)), "string")


def _ending_rank(branch: Schema) -> int:
    """How surely a branch ends a recursion: null first, then other scalars, then containers and references."""
    declared = branch.get("type")
    if declared == "null" or (isinstance(declared, list) and "null" in declared):
        return 0
    if declared in ("string", "number", "integer", "boolean") or "enum" in branch or "const" in branch:
        return 1
    return 2


def _merge(a: Schema, b: Schema) -> Schema:
    """One schema that asks for what `a` and `b` both ask for, as far as generating a value needs."""
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
        elif key == "properties" and isinstance(value, dict) and isinstance(out[key], dict):
            mine = out[key]
            out[key] = {**mine, **{n: {"allOf": [mine[n], s]} if n in mine else s for n, s in value.items()}}
        elif key == "required" and isinstance(value, list) and isinstance(out[key], list):
            out[key] = list(dict.fromkeys([*out[key], *value]))
        elif key == "type":
            out[key] = _type_intersection(out[key], value)
        elif key == "enum" and isinstance(value, list) and isinstance(out[key], list):
            out[key] = [v for v in out[key] if any(_same(v, w) for w in value)]
        elif key in _LOWER_BOUNDS and _numeric(value) and _numeric(out[key]):
            out[key] = max(out[key], value)
        elif key in _UPPER_BOUNDS and _numeric(value) and _numeric(out[key]):
            out[key] = min(out[key], value)
        elif key == "additionalProperties" and value is False:
            out[key] = False
    return out


def _type_intersection(a: Any, b: Any) -> list[str]:
    left = set(a) if isinstance(a, list) else {a}
    right = set(b) if isinstance(b, list) else {b}
    both = left & right
    # Every integer is a number.
    if ("integer" in left and "number" in right) or ("number" in left and "integer" in right):
        both.add("integer")
    order = a if isinstance(a, list) else [a]
    return [t for t in order if t in both] + sorted(both - set(order))


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return _numeric(value) and float(value).is_integer()
    checks: dict[str, Callable[[Any], bool]] = {
        "number": _numeric,
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
    }
    check = checks.get(kind)
    return check is None or check(value)


def _same(a: Any, b: Any) -> bool:
    """JSON equality: `true` is not `1`, as in Python it is."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _contains(values: list[Any], value: Any) -> bool:
    return any(_same(v, value) for v in values)


def _bound(schema: Schema, inclusive: str, exclusive: str) -> tuple[float | None, bool]:
    """A bound and whether it is open, for both drafts: exclusiveMinimum as a number (6+) or a flag (4)."""
    value = schema.get(inclusive) if _numeric(schema.get(inclusive)) else None
    flag = schema.get(exclusive)
    if _numeric(flag):
        return flag, True
    return value, flag is True and value is not None


def _number(schema: Schema, seed: int, *, integer: bool) -> int | float:
    lo, lo_open = _bound(schema, "minimum", "exclusiveMinimum")
    hi, hi_open = _bound(schema, "maximum", "exclusiveMaximum")
    step = schema.get("multipleOf") if _numeric(schema.get("multipleOf")) and schema["multipleOf"] > 0 else None
    if integer:
        low = None if lo is None else (math.floor(lo) + 1 if lo_open else math.ceil(lo))
        high = None if hi is None else (math.ceil(hi) - 1 if hi_open else math.floor(hi))
        if low is not None and high is not None:
            value: int | float = low + seed % (high - low + 1) if high >= low else low
        elif low is not None:
            value = low + seed % 100
        elif high is not None:
            value = high - seed % 100
        else:
            value = seed % 100
    else:
        if lo is not None and hi is not None:
            value = lo + (hi - lo) * (1 + seed % 998) / 1000
        elif lo is not None:
            value = lo + 0.5 + (seed % 1000) / 10
        elif hi is not None:
            value = hi - 0.5 - (seed % 1000) / 10
        else:
            value = (seed % 1000) / 10 + 0.05  # a fraction, so a value for `number` is no `integer`
    if step is None:
        return value

    def inside(v: float) -> bool:
        return ((lo is None or v > lo or (v == lo and not lo_open))
                and (hi is None or v < hi or (v == hi and not hi_open)))

    # Multiples whose quotient is exact in floating point, so validators that divide agree.
    base = math.ceil(value / step)
    for k in (base, base - 1, base + 1, math.ceil((lo or 0) / step), math.floor((hi or 0) / step), 0, 1):
        candidate = k * step
        if integer and not float(candidate).is_integer():
            continue
        if inside(candidate) and (candidate / step) == int(candidate / step):
            return int(candidate) if integer else candidate
    return value


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return True  # a pattern Python cannot read is left to the client's own validator


def _from_pattern(pattern: str, seed: int, least: int, most: int | None) -> str | None:
    for attempt in range(8):
        try:
            text = rstr.Rstr(random.Random(seed + attempt)).xeger(pattern)
        except (re.error, ValueError, IndexError):
            return None
        if len(text) >= least and (most is None or len(text) <= most) and _search(pattern, text):
            return text
    return None
