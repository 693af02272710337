"""``vocalize serve``: an OpenAI-compatible speech server over one warm engine.

Needs the ``server`` extra (``pip install 'vocalize[server]'``: FastAPI, uvicorn,
prometheus_client). See :mod:`vocalize.server.app` for the routes.
"""

from __future__ import annotations

import ipaddress
import logging
import threading

from ..errors import InputError, VocalizeError
from .app import ServerSettings, create_app

__all__ = ["ServerSettings", "create_app", "is_loopback", "serve"]


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_settings(settings: ServerSettings) -> None:
    if not is_loopback(settings.host) and not settings.api_key:
        raise InputError(
            f"binding {settings.host} makes the server reachable from other machines: "
            "set an API key with --api-key or VOCALIZE_API_KEY (or bind 127.0.0.1)"
        )
    if settings.workers < 1 or settings.queue < 0 or settings.max_input_chars < 1:
        raise InputError("workers and max input must be at least 1, the queue at least 0")


def serve(settings: ServerSettings) -> None:
    """Runs the server until Ctrl-C / SIGTERM. Raises the warm-up's error if the engine could
    not be loaded (the server stops then)."""
    check_settings(settings)
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    app = create_app(settings)
    state = app.state.vocalize
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, access_log=False, log_level="info", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)

    def stop_on_failure() -> None:
        while not state.ready.wait(0.2):
            if state.failure is not None:
                server.should_exit = True
                return
            if server.should_exit:
                return

    threading.Thread(target=stop_on_failure, name="vocalize-watch-warm-up", daemon=True).start()
    server.run()
    if state.failure is not None:
        raise state.failure
    if not server.started:
        raise VocalizeError(f"could not listen on {settings.host}:{settings.port}")
