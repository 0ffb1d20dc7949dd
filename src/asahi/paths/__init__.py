"""The request paths beside chat (embeddings, legacy completions, token counts, the Responses API), built from
the pipeline's own steps: `Pipeline.admit` (ledger, policy, rate limit), tier 1, the providers, `Pipeline.record`
(metrics and the ledger row). None has its own copy of a step."""
