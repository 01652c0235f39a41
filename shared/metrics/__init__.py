"""Per-turn metrics: the turn event, its publisher, and the per-minute aggregates it feeds.

- `event`: the one turn event model (`TurnEvent`), written by the chat and read here.
- `publisher`: events queued and published off the request path (`TurnPublisher`).
- `aggregate`: events counted once each into sharded per-minute documents.
- `summary`: a window of minutes summarised (counts, rates, latency percentiles).
- `handler`: the metrics function's Pub/Sub handler.
"""
