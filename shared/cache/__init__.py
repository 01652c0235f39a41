"""The response cache: answers reused only when they are certainly the same answer.

- `responses`: the cache itself (`ResponseCache`): exact hits on a normalised key, semantic
  hits on a near vector, TTLs by intent, hit counts off the request path; `CacheQuery` is a
  turn's question as the cache sees it.
- `guard`: whether two questions have one answer (`Guard`), with the catalog's own names.
- `details`: the critical details a question says (numbers, times, places, names, negation...).
- `words`, `vocabulary`, `patterns`: the canonical content words, the catalog's lexicon, and the
  regular expressions and folding (on `shared.text`) that the guard reads text with.
"""
