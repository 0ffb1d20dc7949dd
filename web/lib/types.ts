// The API's answers, as the dashboard reads them (see the README's API section).

export type CacheTier = "miss" | "t1" | "t2" | "t3" | "bypass";
export type Cause = "tier1" | "tier2" | "tier3" | "routing";
export const CAUSES: Cause[] = ["tier1", "tier2", "tier3", "routing"];
export const TIERS: CacheTier[] = ["t1", "t2", "t3", "miss", "bypass"];

export interface Figures {
  requests: number;
  cost_usd: number;
  baseline_cost_usd: number;
  saved_usd: number;
  input_tokens: number;
  output_tokens: number;
}

export interface Point {
  start: string;
  requests: number;
  errors: number;
  cost_usd: number;
  baseline_cost_usd: number;
  saved_usd: number;
  savings: Record<Cause, number>;
  cache: Record<CacheTier, number>;
}

export interface Usage {
  since: string;
  until: string;
  granularity: "hour" | "day";
  total: Figures & { rows_with_unknown_price: number; saved_share: number | null; errors: number };
  by_model: Record<string, Figures>;
  savings: Record<Cause, number>;
  cache: Record<CacheTier, number>;
  hit_rates: { t1: number | null; t2: number | null; t3: number | null; cache: number | null };
  overhead_ms: { p50: number | null; p95: number | null };
  latency_ms: { p50: number | null; p95: number | null };
  series: Point[];
}

export interface Alternative {
  model: string;
  estimated_cost_usd: number | null;
  quality_share: number | null;
}

export interface LedgerRow {
  request_id: string;
  created_at: string;
  surface: string;
  key_id: string | null;
  key_name: string | null;
  key_prefix: string | null;
  model: string | null;
  model_requested: string | null;
  provider: string | null;
  cache_tier: CacheTier;
  similarity: number | null;
  status: number;
  error_code: string | null;
  cost_usd: number | null;
  baseline_cost_usd: number | null;
  saved_usd: number | null;
  prompt_cache_saved_usd: number | null;
  cost_complete: boolean;
  saving_cause: Cause | null;
  latency_ms: number;
  overhead_ms: number;
  tokens: { input: number; output: number; cached_input: number; cache_write: number; reasoning: number };
  routing_reason: string | null;
  alternatives: Alternative[];
  feedback: boolean | null;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface Facets {
  models: string[];
  keys: { id: string; name: string | null; prefix: string | null }[];
}

export interface CacheReport {
  tier2: {
    enabled: boolean;
    embedder?: string;
    vector_store?: string;
    delta?: number;
    delta_source?: "policy" | "default";
    estimated_error_rate?: number | null;
    labels?: number;
    feedback: { labelled: number; wrong: number; rate: number | null; rate_upper_95: number | null };
  };
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface CreatedKey extends ApiKey {
  api_key: string;
}

export interface PolicyBudget {
  limit_usd: number;
  window: string;
  hard: boolean;
}

export interface Policy {
  allowed_models: string[] | null;
  default_model: string | null;
  baseline_model: string | null;
  quality_floor: number | null;
  requests_per_minute: number | null;
  tier2_target_error: number | null;
  cascade: boolean;
  budgets: PolicyBudget[] | null;
  alert_webhook_url: string | null;
}

export interface ServedModel {
  name: string;
  provider: string;
  quality: number;
  input_price: number | null;
  output_price: number | null;
  allowed: boolean;
}

export interface Health {
  status: string;
  version: string;
  uptime_seconds: number;
  cache_backend: string;
  database_backend: string;
  providers: string[];
  embedder: string | null;
  vector_store: string | null;
}

export interface Signup {
  org_id: string;
  org_name: string;
  api_key: string;
  key_id: string;
  scopes: string[];
}
