"""The chat function: sessions and chat turns over HTTPS (shared/chat/api.py)."""

import flask
import functions_framework

from shared.chat.api import routes
from shared.config import get_settings

# Read (and check) the settings now: a deployment missing one (SESSION_SECRET...) fails to
# start, visibly, instead of answering every request with a 500.
get_settings()
routes.answer_unrouted()  # a path functions-framework cannot route: a JSON 404 too


@functions_framework.http
def chat(request: flask.Request) -> flask.Response:
    """Entry point of the `chat` function."""
    return routes(request)
