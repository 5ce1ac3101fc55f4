"""A wall-clock limit on the work for one photo.

Memory per photo is bounded before decoding (``images.max_bytes``, ``images.max_pixels``); this
bounds its time. The limit is an interval timer whose signal raises :class:`PhotoTimeoutError` in
the worker's main thread: Python-level work (the cloak's optimisation steps, the loop over the
faces of a crowd photo) stops at once, and a native call (a decoder, one OpenVINO inference), each
bounded by the pixel limit, stops when it returns. Off a main thread (signals cannot reach it) the
limit does nothing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class PhotoTimeoutError(Exception):
    """The work for one photo took longer than its limit."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`PhotoTimeoutError` inside the block once ``seconds`` have passed (<= 0: none)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:  # noqa: ARG001
        raise PhotoTimeoutError(f"took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
