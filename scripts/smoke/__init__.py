"""Operator smoke test: a short end-to-end check of a running deployment, over HTTP only.

Usage: python -m scripts.smoke --url BASE [options]
       python -m scripts.smoke --chat-url URL --intent-url URL --metrics-url URL [options]
       python -m scripts.smoke --function-urls outputs.json [options]

BASE is one origin that serves every function under /chat, /intent and /metrics (`make dev`,
`make dev-cloud`, a load balancer); a default cloud deployment has one URL per function instead
(`terraform output -json` writes the file --function-urls reads: its base_url and
direct_function_urls). The intent and metrics functions, when IAM guards them, take an identity
token (--id-token, or $SMOKE_ID_TOKEN, or --id-token-from-metadata on Google Cloud); it is sent
to those two only and never printed. A function Terraform lists as null takes internal traffic
only: nothing outside Google's network reaches it, so the steps that need it are skipped, and
that alone does not fail the run.

Steps, each printed as `ok <step> (<ms> ms)` (with a note after a colon), `FAIL <step>: <reason>`
or, for a step that could not run (one it needs failed, or its function is not reachable from
here), `skip <step>: <reason>`: health of every function, their health details, a metrics
baseline, the retailer's suggestions (GET /chat/about), the intent route of those questions, a
session, one streamed turn that must cite sources, the session's history, resume, delete (then
404), the metrics summary counting that turn within --timeout; with --publish-change CATALOG, a
one-record catalog change published through the operator CLI (scripts.publish_catalog) and seen
to move the catalog version, then the record published back as it was and seen to move it again.

Exit codes: 0 every step that could run passed; 1 a step failed; 2 usage; 130 interrupted. See
docs/smoke.md.

Standard library only. The modules, each read on its own: http (the client: a timeout on every
request, each failure one line; the identity token), sse (the event-stream reader), report (the
lines and the summary), steps (where the functions are; health and metrics), conversation (the
question, the session, the streamed turn), change (the catalog change), plan (the steps in order
and why one is skipped), cli (the options and main).
"""

from scripts.smoke.cli import main

__all__ = ["main"]
