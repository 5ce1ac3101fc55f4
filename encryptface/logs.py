"""One log format for the driver and the workers."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def ensure_library_logging() -> None:
    """INFO lines of ``encryptface.*`` on stderr, once per process (Spark's Python workers start
    without any logging set up)."""
    root = logging.getLogger("encryptface")
    if not root.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False  # a library that configures the root logger later would print twice
