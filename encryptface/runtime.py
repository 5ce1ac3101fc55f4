"""What a worker process (or the driver) sets up once and enforces: the log format, native thread
limits, and the wall-clock deadline of the photo being worked on.

Deadlines: memory per photo is bounded before decoding (``images.max_bytes``, ``images.max_pixels``),
which also bounds the time of each single native call (decoding, detection, one inference). The
deadline bounds the sum: the scrubber opens a :func:`deadline` per photo, and the long loops (faces
of a photo, the cloak's optimisation steps) call :func:`check_deadline`, which raises
:class:`PhotoTimeoutError` once it has passed. Cooperative on purpose: an asynchronous signal raised
into torch's OpenMP backward pass crashed the process (seen while building this).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator

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


def openvino_options(threads: int, hint: str = "LATENCY", f32: bool = True) -> dict:
    """OpenVINO CPU compile options: ``hint``, f32 inference where ``f32`` (the CPU plugin otherwise
    may pick bf16 on CPUs that have it, and a key must render the same face on every executor),
    and with ``threads`` that many inference threads, unpinned (Spark runs one worker process per
    core: pinned, every process's threads sit on the same first cores and take turns)."""
    options: dict = {"PERFORMANCE_HINT": hint}
    if f32:
        options["INFERENCE_PRECISION_HINT"] = "f32"
    if threads:
        options.update(INFERENCE_NUM_THREADS=threads, ENABLE_CPU_PINNING=False)
    return options


def openvino_opset() -> object:
    """OpenVINO's opset13 module, for graphs built or edited at load time."""
    try:
        from openvino import opset13
    except ImportError:  # OpenVINO 2023 (the Orca environment)
        from openvino.runtime import opset13
    return opset13


def limit_threads(threads: int) -> None:
    """Cap OpenCV's and torch's native threads in this process, once per worker (0: the libraries'
    default, all cores). An engine that runs one worker per core passes 1 to avoid oversubscription.
    OpenVINO models take their thread count when they are compiled (their ``threads`` argument)."""
    if not threads:
        return
    import cv2

    cv2.setNumThreads(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:  # torch sizes its thread pool from this when it is first imported (seal never imports it)
        os.environ["OMP_NUM_THREADS"] = str(threads)


# (the time it passes, its length, the clock it is read on)
_DEADLINE: contextvars.ContextVar[tuple[float, float, Callable[[], float]] | None] = \
    contextvars.ContextVar("encryptface_deadline", default=None)


class PhotoTimeoutError(Exception):
    """The work for one photo took longer than its limit."""


@contextlib.contextmanager
def deadline(seconds: float, clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """Within the block, :func:`check_deadline` raises once ``seconds`` have passed on ``clock``
    (<= 0: never). Tests pass a clock that advances per reading, so what they check does not
    depend on how fast the machine is."""
    token = _DEADLINE.set((clock() + seconds, seconds, clock) if seconds > 0 else None)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check_deadline() -> None:
    """Raise :class:`PhotoTimeoutError` if the current photo's deadline has passed."""
    current = _DEADLINE.get()
    if current is not None and current[2]() > current[0]:
        raise PhotoTimeoutError(f"took longer than {current[1]:g} s")
