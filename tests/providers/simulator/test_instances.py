"""Structured answers validate against the requested schema, checked by a real JSON Schema validator."""

from __future__ import annotations

from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from asahi.providers.simulator import LABEL
from asahi.providers.simulator.instances import instance

FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


class Address(BaseModel):
    street: str
    postcode: str = Field(pattern=r"^\d{5}$")


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int = Field(ge=1, le=9)


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Node(BaseModel):
    name: str
    children: list[Node] = []
    parent: Node | None = None


class Person(BaseModel):
    name: str = Field(max_length=10)
    age: int = Field(ge=0, lt=150)
    addresses: list[Address] = Field(min_length=1, max_length=3)
    pet: Cat | Dog = Field(discriminator="kind")
    tree: Node
    score: float = Field(multiple_of=0.01, gt=0, le=1)
    tags: set[str]


SCHEMAS: dict[str, dict[str, Any]] = {
    "scalars": {"type": "object", "properties": {
        "s": {"type": "string"}, "i": {"type": "integer"}, "n": {"type": "number"}, "b": {"type": "boolean"},
        "z": {"type": "null"}, "several": {"type": ["null", "integer"]}}},
    "required and closed": {"type": "object", "required": ["a", "b"], "additionalProperties": False,
                            "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}},
    "enum and const": {"type": "object", "properties": {
        "colour": {"enum": ["red", "green", "blue"]}, "version": {"const": 2},
        "flag": {"type": "boolean", "enum": [True]}}},
    "formats": {"type": "object", "properties": {f: {"type": "string", "format": f} for f in (
        "date", "time", "date-time", "duration", "email", "hostname", "ipv4", "ipv6", "uri", "uri-reference",
        "uuid", "json-pointer", "relative-json-pointer", "regex")}},
    "string lengths and patterns": {"type": "object", "properties": {
        "short": {"type": "string", "maxLength": 3}, "long": {"type": "string", "minLength": 60},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"}, "exact": {"type": "string", "minLength": 5,
                                                                                "maxLength": 5}}},
    "numbers": {"type": "object", "properties": {
        "ranged": {"type": "integer", "minimum": 10, "maximum": 12},
        "open": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "step": {"type": "number", "multipleOf": 0.25, "minimum": 3},
        "cents": {"type": "number", "multipleOf": 0.01},
        "even": {"type": "integer", "multipleOf": 2, "maximum": -3}}},
    "draft 4 bounds": {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "properties": {
        "open": {"type": "number", "minimum": 5, "exclusiveMinimum": True, "maximum": 6},
        "int": {"type": "integer", "minimum": 5, "exclusiveMinimum": True, "maximum": 6}}},
    "arrays": {"type": "object", "properties": {
        "few": {"type": "array", "items": {"type": "integer"}, "maxItems": 1},
        "many": {"type": "array", "items": {"type": "string"}, "minItems": 5},
        "unique": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 3, "uniqueItems": True},
        "tuple": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
        "contains": {"type": "array", "items": {"type": "integer"}, "contains": {"const": 7}},
        "empty": {"type": "array", "maxItems": 0}}},
    "nested": {"type": "object", "required": ["outer"], "properties": {"outer": {
        "type": "object", "required": ["inner"], "properties": {"inner": {
            "type": "object", "required": ["list"], "properties": {"list": {
                "type": "array", "items": {"type": "object", "required": ["x"], "properties": {
                    "x": {"type": "number"}}}}}}}}}},
    "refs": {"$defs": {"Point": {"type": "object", "required": ["x", "y"], "additionalProperties": False,
                                 "properties": {"x": {"type": "number"}, "y": {"type": "number"}}}},
             "type": "object", "properties": {"a": {"$ref": "#/$defs/Point"},
                                              "b": {"$ref": "#/$defs/Point", "description": "beside a ref"},
                                              "c": {"type": "array", "items": {"$ref": "#/$defs/Point"}}}},
    "draft 7 definitions": {"definitions": {"Id": {"type": "string", "format": "uuid"}},
                            "type": "object", "properties": {"id": {"$ref": "#/definitions/Id"}}},
    "anyOf first fitting branch": {"type": "string", "anyOf": [{"type": "integer"}, {"minLength": 4}]},
    "oneOf tells branches apart": {"oneOf": [
        {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}},
        {"type": "object", "required": ["kind"], "properties": {"kind": {"const": "b"}}}]},
    "oneOf numbers": {"oneOf": [{"type": "number"}, {"type": "integer"}]},
    "allOf": {"allOf": [{"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}},
                        {"required": ["b"], "properties": {"b": {"type": "string"}, "a": {"minimum": 50}}}]},
    "min properties": {"type": "object", "minProperties": 2, "additionalProperties": {"type": "integer"}},
    "recursive root": {"$ref": "#/$defs/Tree", "$defs": {"Tree": {"type": "object", "required": ["kids"],
                       "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Tree"}}}}}},
    "pydantic": Person.model_json_schema(),
    "pydantic recursive": Node.model_json_schema(),
}


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_value_validates(name: str) -> None:
    schema = SCHEMAS[name]
    for seed in range(40):
        jsonschema.validate(instance(schema, seed, LABEL), schema, format_checker=FORMATS)


def test_pydantic_models_read_the_answer_back() -> None:
    person = Person.model_validate(instance(Person.model_json_schema(), 7, LABEL))
    assert person.addresses and isinstance(person.pet, Cat | Dog) and isinstance(person.tree, Node)


def test_same_seed_same_value_other_seed_other_value() -> None:
    schema = Person.model_json_schema()
    assert instance(schema, 1, LABEL) == instance(schema, 1, LABEL)
    assert instance(schema, 1, LABEL) != instance(schema, 2, LABEL)


def test_free_text_carries_the_label_and_no_field_is_added() -> None:
    schema = SCHEMAS["required and closed"]
    value = instance(schema, 3, LABEL)
    assert set(value) == {"a", "b"} and value["a"].startswith(f"{LABEL} a ")


def test_every_property_is_filled_and_arrays_have_items() -> None:
    value = instance(SCHEMAS["refs"], 5, LABEL)
    assert set(value) == {"a", "b", "c"} and len(value["c"]) == 2


def test_recursive_models_end_small() -> None:
    value = instance(Node.model_json_schema(), 5, LABEL)
    assert [set(child) for child in value["children"]] == [{"name"}, {"name"}]
    assert set(value["parent"]) == {"name"}


def test_a_discriminated_union_takes_its_first_branch() -> None:
    assert instance(SCHEMAS["pydantic"], 0, LABEL)["pet"]["kind"] == "cat"
    assert instance(SCHEMAS["oneOf tells branches apart"], 0, LABEL)["kind"] != "b"
