"""instructor: structured, nested and iterable extraction, in its tool mode and its JSON modes."""

from __future__ import annotations

import instructor
import pytest
from openai import OpenAI
from pydantic import BaseModel, Field

from tests.clients.conftest import Asahi

MODEL = "asahi-sim-gpt-4o"


class User(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)


class Address(BaseModel):
    city: str
    postcode: str = Field(pattern=r"^\d{5}$")


class Company(BaseModel):
    name: str
    founded: int = Field(ge=1800, le=2030)
    offices: list[Address] = Field(min_length=1)
    ceo: User


class Task(BaseModel):
    title: str
    priority: int = Field(ge=1, le=3)


def client(asahi: Asahi, key: str, mode: instructor.Mode) -> instructor.Instructor:
    return instructor.from_openai(OpenAI(base_url=asahi.v1, api_key=key), mode=mode)


@pytest.mark.parametrize(("mode", "how"), [(instructor.Mode.TOOLS, "tools"),
                                           (instructor.Mode.JSON_SCHEMA, "json_schema"),
                                           (instructor.Mode.JSON, "json mode")])
def test_structured(asahi: Asahi, key: str, mode: instructor.Mode, how: str, request: pytest.FixtureRequest) -> None:
    request.node.add_marker(pytest.mark.compat("instructor", "structured output", how=how))
    user = client(asahi, key, mode).chat.completions.create(
        model=MODEL, response_model=User, messages=[{"role": "user", "content": f"Jason is 25 ({how})."}])
    assert isinstance(user, User) and user.name and 0 <= user.age <= 130


@pytest.mark.compat("instructor", "nested models", how="$ref / $defs")
def test_nested(asahi: Asahi, key: str) -> None:
    company = client(asahi, key, instructor.Mode.TOOLS).chat.completions.create(
        model=MODEL, response_model=Company,
        messages=[{"role": "user", "content": "Acme, founded 1950, offices in Lyon and Turin, CEO Ada, 51."}])
    assert isinstance(company.ceo, User) and company.offices
    assert all(isinstance(office, Address) and len(office.postcode) == 5 for office in company.offices)


@pytest.mark.compat("instructor", "lists", how="create_iterable")
def test_iterable(asahi: Asahi, key: str) -> None:
    tasks = list(client(asahi, key, instructor.Mode.TOOLS).chat.completions.create_iterable(
        model=MODEL, response_model=Task, messages=[{"role": "user", "content": "Buy milk, call mum, pay rent."}]))
    assert tasks and all(isinstance(t, Task) and 1 <= t.priority <= 3 for t in tasks)
