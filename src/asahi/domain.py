"""The one internal request and response shape every surface translates to and from.

Surfaces (OpenAI, Anthropic, native `/infer`) parse their wire format into `ChatRequest`, the pipeline and
providers work only on these types, and surfaces render `ChatResult` or a stream of `StreamEvent` back out.
Keeping one shape is what lets a request in one provider's format be served by the other provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]
# A provider wire format. Fields and blocks Asahi does not model travel in the format they came in, tagged with it.
Family = Literal["openai", "anthropic"]


@dataclass(slots=True, frozen=True)
class TextPart:
    text: str
    # Anthropic prompt caching marker; surfaces set it, tier 3 may add it.
    cache_control: bool = False


@dataclass(slots=True, frozen=True)
class ImagePart:
    """An image by URL or inline base64 data (`data` holds base64 text without the data: prefix)."""

    url: str | None = None
    data: str | None = None
    media_type: str | None = None


@dataclass(slots=True, frozen=True)
class NativePart:
    """A content block Asahi does not model (Anthropic thinking, documents and server tool results; OpenAI audio
    and files), exactly as it came, for providers of its `family` only."""

    family: Family
    block: dict[str, Any]

    @property
    def is_reasoning(self) -> bool:
        return self.block.get("type") in ("thinking", "redacted_thinking")


Part = TextPart | ImagePart | NativePart


@dataclass(slots=True, frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, exactly as the model produced it


@dataclass(slots=True)
class Message:
    role: Role
    content: list[Part] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None  # role == "tool": which call this answers
    name: str | None = None
    is_error: bool = False  # a tool result reporting failure (Anthropic's is_error)

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def has_non_text(self) -> bool:
        return any(not isinstance(p, TextPart) for p in self.content)


@dataclass(slots=True, frozen=True)
class Tool:
    name: str
    description: str | None
    parameters: dict[str, Any]  # JSON schema
    native: dict[str, Any] | None = None  # a provider's own tool (e.g. Anthropic web search), as it came
    family: Family | None = None  # set with `native`

@dataclass(slots=True, frozen=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "tool"]
    name: str | None = None  # mode == "tool"


@dataclass(slots=True, frozen=True)
class Reasoning:
    """How much a reasoning model may think: OpenAI's effort or Anthropic's token budget, each translatable into
    the other. Reasoning tokens are output tokens: billed, and counted in the ledger."""

    effort: Effort | None = None
    budget_tokens: int | None = None

    def budget(self) -> int:
        """As a thinking budget in tokens (a medium one when neither was given: the model decides)."""
        return self.budget_tokens or EFFORT_BUDGETS[self.effort or "medium"]

    def as_effort(self) -> Effort:
        """As an effort: the smallest whose budget holds this one's."""
        if self.effort is not None:
            return self.effort
        budget = self.budget()
        return next((effort for effort, limit in EFFORT_BUDGETS.items() if budget <= limit), "high")


Effort = Literal["minimal", "low", "medium", "high"]
# Efforts and thinking budgets, each to the other: light, medium and deep thinking as Anthropic sizes them.
EFFORT_BUDGETS: dict[Effort, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}


@dataclass(slots=True)
class ChatRequest:
    """A chat request, whatever surface it came from.

    `extras` holds the fields of the surface's format (`family`) that Asahi does not model, untouched: they go to
    providers of that family as they came, take part in every cache key, and make a provider of another family
    incapable of the request (it is skipped, or an explicit request refused), never silently dropped.
    """

    model: str
    messages: list[Message]
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    response_format: dict[str, Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    n: int = 1
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    user: str | None = None
    stream: bool = False
    include_usage: bool = False
    parallel_tool_calls: bool | None = None
    # OpenAI prompt-cache routing key: requests sharing it meet on the same cache servers; tier 3 sets it.
    prompt_cache_key: str | None = None
    reasoning: Reasoning | None = None
    logprobs: bool = False  # OpenAI only
    top_logprobs: int | None = None  # OpenAI only
    frequency_penalty: float | None = None  # OpenAI only
    presence_penalty: float | None = None  # OpenAI only
    top_k: int | None = None  # Anthropic only
    family: Family | None = None  # the surface format the request came in
    extras: dict[str, Any] = field(default_factory=dict)

    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user":
                return message.text
        return ""

    def native_fields(self) -> dict[Family, list[str]]:
        """What only providers of one family can take, by family: the reason another family is incapable."""
        found: dict[Family, list[str]] = {}
        if self.family is not None and self.extras:
            found.setdefault(self.family, []).extend(sorted(self.extras))
        for name, family in _FAMILY_FIELDS:
            if getattr(self, name) not in (None, False):
                found.setdefault(family, []).append(name)
        for message in self.messages:
            for part in message.content:
                # An answer's own past reasoning translates by leaving it out: other formats carry none.
                if isinstance(part, NativePart) and not part.is_reasoning:
                    found.setdefault(part.family, []).append(f"{part.block.get('type')} content")
        for tool in self.tools:
            if tool.family is not None:
                found.setdefault(tool.family, []).append(f"{tool.name} tool")
        return found


_FAMILY_FIELDS: tuple[tuple[str, Family], ...] = (
    ("logprobs", "openai"), ("top_logprobs", "openai"), ("frequency_penalty", "openai"),
    ("presence_penalty", "openai"), ("top_k", "anthropic"),
)


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0  # all prompt tokens, cached ones included
    output_tokens: int = 0
    cached_input_tokens: int = 0  # read from the provider's prompt cache
    cache_write_tokens: int = 0  # written to the provider's prompt cache (Anthropic bills these higher)
    reasoning_tokens: int = 0  # the part of output_tokens spent thinking (billed as output)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )


@dataclass(slots=True)
class Choice:
    index: int
    message: Message
    finish_reason: FinishReason
    logprobs: dict[str, Any] | None = None  # as OpenAI reported them (`content`, `refusal`)


@dataclass(slots=True)
class ChatResult:
    id: str
    model: str  # the model that actually answered
    provider: str
    choices: list[Choice]
    usage: Usage
    created: int
    family: Family | None = None  # the wire format `extras` are in
    extras: dict[str, Any] = field(default_factory=dict)  # the provider's own top-level answer fields


@dataclass(slots=True, frozen=True)
class TextDelta:
    index: int
    text: str


@dataclass(slots=True, frozen=True)
class ToolCallDelta:
    """A piece of a tool call. The first piece of a call carries its id and name."""

    index: int
    tool_index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(slots=True, frozen=True)
class FinishEvent:
    index: int
    finish_reason: FinishReason


@dataclass(slots=True, frozen=True)
class UsageEvent:
    usage: Usage


@dataclass(slots=True, frozen=True)
class ThinkingDelta:
    """A piece of an Anthropic thinking block: its text, its closing signature, or a redacted block's data."""

    index: int
    thinking: str = ""
    signature: str | None = None
    redacted: str | None = None


@dataclass(slots=True, frozen=True)
class LogprobsDelta:
    """OpenAI log probabilities for the tokens of a stream chunk."""

    index: int
    content: list[dict[str, Any]]


StreamEvent = TextDelta | ToolCallDelta | FinishEvent | UsageEvent | ThinkingDelta | LogprobsDelta
