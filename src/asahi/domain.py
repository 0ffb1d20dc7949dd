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


Part = TextPart | ImagePart


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


@dataclass(slots=True, frozen=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "tool"]
    name: str | None = None  # mode == "tool"


@dataclass(slots=True)
class ChatRequest:
    """A chat request, whatever surface it came from."""

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

    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user":
                return message.text
        return ""


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


@dataclass(slots=True)
class ChatResult:
    id: str
    model: str  # the model that actually answered
    provider: str
    choices: list[Choice]
    usage: Usage
    created: int


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


StreamEvent = TextDelta | ToolCallDelta | FinishEvent | UsageEvent
