"""The database tables. Names are part of the contract (`orgs`, `api_keys`); migrations live in `migrations/`."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

orgs = Table(
    "orgs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    # Case-folded name: "Acme" and "acme" are the same org for uniqueness.
    Column("name_key", String(200), nullable=False, unique=True),
    Column("email", String(320), nullable=False),
    # The org's policy (allowed models, default and baseline models, limits), sealed with AES-256-GCM.
    Column("policy_sealed", LargeBinary, nullable=True),
    Column("policy_key_id", String(16), nullable=True),  # which encryption key sealed it (rotation)
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("suspended_at", DateTime(timezone=True), nullable=True),  # set: every key of the org is refused
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("org_id", String(32), ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("digest", String(64), nullable=False),
    Column("scopes", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    # A virtual key's own limits, on top of its org's policy (the stricter wins).
    Column("allowed_models", JSON, nullable=True),
    Column("requests_per_minute", Integer, nullable=True),
    Column("tokens_per_minute", Integer, nullable=True),
    Column("budgets", JSON, nullable=True),  # [{"limit_usd", "window", "hard"}, ...]
)

usage_records = Table(
    "usage_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(40), nullable=False, unique=True),
    Column("org_id", String(32), nullable=False),
    Column("key_id", String(32), nullable=True),
    Column("surface", String(20), nullable=False),
    Column("model_requested", String(100), nullable=True),
    Column("model_used", String(100), nullable=True),
    Column("provider", String(50), nullable=True),
    Column("input_tokens", Integer, nullable=False, default=0),
    Column("output_tokens", Integer, nullable=False, default=0),
    Column("cached_input_tokens", Integer, nullable=False, default=0),
    Column("cost_usd", Float, nullable=True),
    Column("baseline_cost_usd", Float, nullable=True),
    Column("saved_usd", Float, nullable=True),
    Column("cost_complete", Boolean, nullable=False, default=True),
    Column("saving_cause", String(32), nullable=True),
    Column("cache_tier", Integer, nullable=False, default=0),
    # miss, t1, t2, t3 (a miss the provider's prompt cache served in part) or bypass (not cacheable).
    Column("cache", String(8), nullable=False, server_default="miss"),
    Column("cache_write_tokens", Integer, nullable=False, server_default="0"),
    Column("reasoning_tokens", Integer, nullable=False, server_default="0"),
    Column("routing_reason", String(500), nullable=True),
    Column("alternatives", JSON, nullable=True),  # [[model, estimated USD, predicted quality share], ...]
    Column("similarity", Float, nullable=True),  # tier 2 hits: the confirmed similarity
    Column("error_code", String(64), nullable=True),
    Column("prompt_cache_saved_usd", Float, nullable=True),  # the tier 3 part of saved_usd
    Column("latency_ms", Float, nullable=False, default=0.0),
    Column("overhead_ms", Float, nullable=False, default=0.0),
    Column("status", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Newest first within an org, with the id as the tie-break a cursor needs.
    Index("ix_usage_records_org_request", "org_id", "created_at", "id"),
    Index("ix_usage_records_key_created", "key_id", "created_at"),  # a key budget rebuilt from the ledger
)

# A user's verdict on a tier 2 hit (POST /feedback), kept beside the hit's ledger row: the measured rate of wrong
# hits that the dashboard sets against the org's bound (δ). The latest verdict on a request stands.
tier2_feedback = Table(
    "tier2_feedback",
    metadata,
    Column("request_id", String(40), primary_key=True),
    Column("org_id", String(32), nullable=False),
    Column("correct", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_tier2_feedback_org", "org_id", "created_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_id", String(32), nullable=True, index=True),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(64), nullable=True),
    Column("details", JSON, nullable=True),  # which fields changed and non-secret values, never a secret
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("request_id", String(40), nullable=True),
    Column("client", String(64), nullable=True),  # the caller's address
    # SHA-256 over the previous row's hash and this row's content: a changed or deleted row breaks the chain.
    Column("prev_hash", String(64), nullable=True),
    Column("hash", String(64), nullable=True),
)

# A budget's spend in one period, the counter the database path reserves against (Redis keeps its own copy);
# both are rebuilt from the ledger, which stays the source of truth. Amounts are in nano-USD, exact integers.
budget_counters = Table(
    "budget_counters",
    metadata,
    Column("budget_id", String(120), primary_key=True),
    Column("period_start", DateTime(timezone=True), primary_key=True),
    Column("spent_nano", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# In-flight requests' worst-case costs; a row past `expires_at` belongs to a request that died and is dropped.
budget_reservations = Table(
    "budget_reservations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("budget_id", String(120), nullable=False),
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("amount_nano", BigInteger, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_budget_reservations_budget", "budget_id", "period_start"),
)

# One row per soft-budget alert sent (50, 80, 100 % of a period): the primary key makes each one send once.
budget_alerts = Table(
    "budget_alerts",
    metadata,
    Column("budget_id", String(120), primary_key=True),
    Column("period_start", DateTime(timezone=True), primary_key=True),
    Column("threshold", Integer, primary_key=True),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)

# An org's own credential for a provider (BYOK), sealed with AES-256-GCM; only its last characters are shown.
provider_credentials = Table(
    "provider_credentials",
    metadata,
    Column("org_id", String(32), ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True),
    Column("provider", String(50), primary_key=True),
    Column("sealed", LargeBinary, nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("suffix", String(8), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

semantic_entries = Table(
    "semantic_entries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(32), nullable=False),
    Column("context_key", String(64), nullable=False),
    Column("embedder", String(80), nullable=False),
    Column("vector", LargeBinary, nullable=False),  # what the vector index searches
    Column("confirm_vector", LargeBinary, nullable=True),  # the confirming model's, when a lookup computed it
    Column("prompt", Text, nullable=False),
    Column("response", LargeBinary, nullable=False),
    Column("model", String(100), nullable=False),
    Column("state", JSON, nullable=True),  # the entry's learned hit-correctness model
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Index("ix_semantic_entries_org", "org_id", "created_at"),
)

semantic_org_models = Table(
    "semantic_org_models",
    metadata,
    Column("org_id", String(32), primary_key=True),
    Column("embedder", String(80), nullable=False),
    Column("state", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


routing_org_models = Table(
    "routing_org_models",
    metadata,
    Column("org_id", String(32), primary_key=True),
    Column("state", JSON, nullable=False),  # the org's online routing calibration (routing/online/)
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The conversation of a Responses API answer (its input items and output items, as JSON), for previous_response_id.
stored_responses = Table(
    "stored_responses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_id", String(32), nullable=False),
    Column("conversation", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_stored_responses_org", "org_id", "created_at"),
)
