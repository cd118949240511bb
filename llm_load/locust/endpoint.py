"""Calls to the endpoint outside the load itself: the model to use when none was given.

`discover_model(settings)` asks `GET /v1/models` once at test start (with the run's key and
TLS choice) and returns the first model id, or "" after logging why (requests then fail
visibly, with the server's own message, instead of the run stopping here).
"""

from __future__ import annotations

import logging

import requests

from llm_load.core.wire.endpoint import model_ids
from llm_load.locust.settings import Settings

__all__ = ["discover_model"]

log = logging.getLogger("llm_load")
TIMEOUT_S = 10


def discover_model(settings: Settings) -> str:
    """The first model id served by `GET /v1/models`, or "" (requests then fail visibly)."""
    try:
        resp = requests.get(
            settings.base_url + "/models",
            headers=settings.request_headers(),
            timeout=TIMEOUT_S,
            verify=not settings.insecure,
        )
        resp.raise_for_status()
        ids = model_ids(resp.content)
        if not ids:
            raise ValueError("no model listed" if ids == () else "not an OpenAI model list")
        return ids[0]
    except (requests.RequestException, ValueError) as error:
        log.error("--model not given and GET %s/models failed: %s", settings.base_url, error)
        return ""
