"""Running the app under uvicorn with the fast event loop and HTTP parser."""

from __future__ import annotations

import uvicorn

from asahi.app import create_app
from asahi.settings import Settings


def serve(settings: Settings, host: str, port: int) -> None:
    uvicorn.run(
        create_app(settings), host=host, port=port, loop="uvloop", http="httptools",
        log_config=None, access_log=False, timeout_graceful_shutdown=10,
    )
