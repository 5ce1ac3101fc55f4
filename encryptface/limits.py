"""A wall-clock limit on the work for one photo.

Memory per photo is bounded before decoding (``images.max_bytes``, ``images.max_pixels``), which
also bounds the time of each single native call (decoding, detection, one inference). This bounds
the sum: the scrubber opens a :func:`deadline` per photo, and the long loops (faces of a photo, the
cloak's optimisation steps) call :func:`check_deadline`, which raises :class:`PhotoTimeoutError`
once it has passed. Cooperative on purpose: an asynchronous signal raised into torch's OpenMP
backward pass crashed the process (seen while building this).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator

_DEADLINE: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "encryptface_deadline", default=None)


class PhotoTimeoutError(Exception):
    """The work for one photo took longer than its limit."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Within the block, :func:`check_deadline` raises once ``seconds`` have passed (<= 0: never)."""
    token = _DEADLINE.set((time.monotonic() + seconds, seconds) if seconds > 0 else None)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check_deadline() -> None:
    """Raise :class:`PhotoTimeoutError` if the current photo's deadline has passed."""
    current = _DEADLINE.get()
    if current is not None and time.monotonic() > current[0]:
        raise PhotoTimeoutError(f"took longer than {current[1]:g} s")
