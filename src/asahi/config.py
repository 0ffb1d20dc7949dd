"""The configuration file, typed: every section a frozen model, validated once at start-up.

Every default lives in one place, the `defaults.yaml` shipped inside the package. A file named by `ASAHI_CONFIG`
is laid over it key by key (mappings merge, anything else replaces), so an operator's file holds only what it
changes. A wrong value stops start-up with one line naming its key, e.g.
`config cache.tier1.ttl_seconds: Input should be greater than 0`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

DEFAULTS = Path(__file__).with_name("defaults.yaml")

Positive = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Share = Annotated[float, Field(ge=0, le=1)]


class SettingsError(ValueError):
    """A configuration value is invalid; the message names the variable or the key."""


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerConfig(Section):
    max_body_bytes: Positive  # requests above this get 413
    max_messages: Positive  # per inference request; past them 400
    max_tools: Positive
    max_json_depth: Annotated[int, Field(gt=1, le=200)]
    max_json_values: Positive  # every value in one body, nested ones included
    header_timeout_seconds: PositiveFloat  # a client that has not sent its headers by then is cut off
    body_timeout_seconds: PositiveFloat  # the longest wait for the next piece of a request body (408 after)
    signup_rate_limit_per_hour: Positive  # per client IP


class AuthConfig(Section):
    key_cache_ttl_seconds: PositiveFloat  # how long a verified key is trusted without asking the database


class Tier1Config(Section):
    ttl_seconds: Positive
    memory_max_bytes: Positive  # in-process tier 1 (no Redis): an LRU bounded in bytes
    max_cacheable_temperature: Annotated[float, Field(ge=0, le=2)]  # above it, cached only when the caller opts in


class Tier2Config(Section):
    enabled: bool
    target_error_rate: Annotated[float, Field(gt=0, le=0.2)]  # δ: bound on wrong tier 2 hits per lookup, per org
    verify_sample_rate: Share  # share of would-be hits also sent upstream to label the decision
    max_entries_per_org: Positive
    max_bytes_per_org: Positive
    max_entries_total: Positive  # across orgs, in this process's memory index (the largest org gives way)
    ttl_seconds: Positive
    max_prompt_chars: Positive  # longer last user turns skip tier 2


class Tier3Config(Section):
    enabled: bool  # breakpoints and prompt-cache keys so the provider's own prompt cache applies


class CacheConfig(Section):
    tier1: Tier1Config
    tier2: Tier2Config
    tier3: Tier3Config


class EmbeddingsConfig(Section):
    provider: Literal["auto", "cohere", "local"]  # auto: Cohere with COHERE_API_KEY, else the local pair
    model: str  # the Cohere model
    dimension: Positive  # Cohere's dimension; the local pair searches 128-d static vectors


class VectorsConfig(Section):
    pinecone_index: str


class CircuitBreakerConfig(Section):
    failures: Positive  # consecutive transient failures that open it
    cooldown_seconds: PositiveFloat  # then one probe request is let through


class OnlineRoutingConfig(Section):
    enabled: bool  # per-org calibration from sampled labels, keeping routing within each org's quality floor
    judge_model: str | None  # compares open answers for a label; None: the gateway's default model


class RoutingConfig(Section):
    default_model: str | None  # None: the first served of a preference list (see components)
    baseline_model: str | None
    quality_floor: Annotated[float, Field(ge=0.5, le=1)]
    request_timeout_seconds: PositiveFloat  # the whole request's deadline, retries and fallbacks included
    max_retries: Annotated[int, Field(ge=0, le=10)]
    circuit_breaker: CircuitBreakerConfig
    fallbacks: dict[str, list[str]]
    online: OnlineRoutingConfig


class LedgerConfig(Section):
    spool_max_bytes: Positive  # rows on local disk not yet in the database; past it new requests get 503
    spool_segment_bytes: Positive
    sync_interval_ms: Annotated[float, Field(gt=0, le=1000)]  # the most a power loss can take
    batch_rows: Positive


class NotifyConfig(Section):
    smtp_port: Annotated[int, Field(gt=0, lt=65536)]
    private_webhooks: bool = False


class SimulatorConfig(Section):
    latency_ms: Annotated[float, Field(ge=0)]
    output_tokens: Positive
    prompt_caching: bool = True  # model the prompt caches of the providers its models stand in for


class CompatibleProvider(Section):
    """An OpenAI-compatible server (vLLM, Ollama, llama.cpp server, Groq ...) and the models it serves."""

    name: Annotated[str, Field(min_length=1)]
    base_url: HttpUrl
    api_key_env: str | None = None  # the environment variable holding its key, if it needs one
    models: dict[str, dict[str, Any]]  # priced entries as under `models`
    embedding_models: dict[str, dict[str, Any]] = {}  # entries as under `embedding_models`


class Config(Section):
    server: ServerConfig
    auth: AuthConfig
    cache: CacheConfig
    embeddings: EmbeddingsConfig
    vectors: VectorsConfig
    routing: RoutingConfig
    ledger: LedgerConfig
    notify: NotifyConfig
    simulator: SimulatorConfig
    models: dict[str, dict[str, Any]]  # the catalog; routing.catalog reads each entry
    embedding_models: dict[str, dict[str, Any]]  # POST /v1/embeddings; routing.endpoint_models reads them
    completion_models: dict[str, dict[str, Any]]  # the legacy POST /v1/completions
    compatible_providers: list[CompatibleProvider]


def _read(path: Path, variable: str) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SettingsError(f"{variable}: file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{variable}: {path} is not valid YAML ({exc})") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SettingsError(f"{variable}: {path} must hold a mapping at the top level")
    return loaded


def merged(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`overlay` laid over `base`: mappings merge key by key, any other value replaces."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def load_config(overlay: Path | None = None) -> Config:
    raw = _read(DEFAULTS, "packaged defaults")
    if overlay is not None:
        raw = merged(raw, _read(overlay, "ASAHI_CONFIG"))
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SettingsError(f"config {where}: {first['msg']}") from None
