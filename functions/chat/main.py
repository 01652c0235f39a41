"""The chat function: sessions and chat turns over HTTPS (shared/chat_api.py)."""

import flask
import functions_framework

from shared.chat_api import router


@functions_framework.http
def chat(request: flask.Request) -> flask.Response:
    """Entry point of the `chat` function."""
    return router(request)
