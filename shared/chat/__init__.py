"""The chat: sessions, one turn from question to streamed answer, and its HTTP API.

- `api`: the chat function's routes (sessions, turns as Server-Sent Events), bounds and limits.
- `turn`: one turn (`ChatTurns`): route, retrieve, cache, answer through the ladder, record.
- `plan`, `sources`, `grounding`, `report`: what a turn knows before the model, what its hits
  become (the model's documents, the page's cards), whether a reply is backed by them, and the
  turn event and log line it leaves.
- `sessions`: signed session tokens, history and TTLs; `ratelimit`: token buckets per client.
"""
