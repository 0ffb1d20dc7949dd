"""Which tool the simulator calls, if any: a rule simple enough to predict, so agent loops can be tested offline.

- `tool_choice` names a tool: that tool. `none`, or no tools: no call.
- `auto` or absent (every agent framework's default): a call only when the conversation's newest turn is the
  user's, fewer than `MAX_TOOL_RESULTS` tool results are in the conversation, and some tool matches the last
  user message. A tool matches by the words it shares with that message: each word of its name counts two, each
  word of its description one (words of three letters or more, common ones left out, a plural `s` ignored).
  The best score calls; ties go to the tool listed first; no shared word, no call. After a tool result the
  answer is text, so a loop ends after one call per user turn.
- `required`: a call always, as the API promises. Among the tools not yet called since the last user message,
  the best match as above (the first listed when none matches); once every tool has been called, the best
  match of all. So an agent whose final answer is itself a tool (pydantic-ai's output tools) gets there.
"""

from __future__ import annotations

import re

from asahi.domain import ChatRequest, Tool

MAX_TOOL_RESULTS = 8
_WORD = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_COMMON = frozenset({
    "the", "and", "for", "with", "that", "this", "from", "what", "which", "when", "where", "who", "how", "why",
    "are", "was", "were", "has", "have", "had", "not", "you", "your", "can", "could", "would", "should", "will",
    "may", "might", "use", "using", "get", "set", "make", "list", "call", "run", "tool", "function", "given",
    "give", "return", "about", "into", "its", "their", "them", "there", "then", "than", "any", "all", "one",
    "some", "please", "tell", "show", "find",
})


def pick_tool(request: ChatRequest) -> Tool | None:
    tools, choice = request.tools, request.tool_choice
    if not tools or (choice is not None and choice.mode == "none"):
        return None
    if choice is not None and choice.mode == "tool":
        return next((t for t in tools if t.name == choice.name), tools[0])
    question = _words(request.last_user_text())
    if choice is not None and choice.mode == "required":
        called = _called_since_user(request)
        fresh = [t for t in tools if t.name not in called] or tools
        return max(fresh, key=lambda t: _score(t, question))  # max keeps the first of equal scores
    newest = request.messages[-1].role if request.messages else "user"
    results = sum(m.role == "tool" for m in request.messages)
    if newest != "user" or results >= MAX_TOOL_RESULTS:
        return None
    best = max(tools, key=lambda t: _score(t, question))
    return best if _score(best, question) > 0 else None


def _words(text: str) -> set[str]:
    words = (w[:-1] if len(w) > 3 and w.endswith("s") else w for w in _WORD.findall(_CAMEL.sub(" ", text).lower()))
    return {w for w in words if len(w) >= 3 and w not in _COMMON}


def _score(tool: Tool, question: set[str]) -> int:
    name = _words(tool.name)
    description = _words(tool.description or "") - name
    return 2 * len(name & question) + len(description & question)


def _called_since_user(request: ChatRequest) -> set[str]:
    called: set[str] = set()
    for message in reversed(request.messages):
        if message.role == "user":
            break
        called.update(call.name for call in message.tool_calls)
    return called
