"""Test-only crash injection for Spark's Python workers, kept out of the production code.

A test that wants a worker to die puts this folder first on ``PYTHONPATH`` of the job it starts
(:func:`faults.worker_faults_env`); Python imports ``sitecustomize`` at start-up in every process
of the job, Spark's Python workers included (Spark passes the executor's ``PYTHONPATH`` on to
them). When :mod:`encryptface.pipeline.batch` is then imported, its per-photo function is wrapped:

- ``ENCRYPTFACE_TEST_CRASH_ONCE="<relative path>=<marker file>"``: the Python worker that meets
  that photo exits abruptly once (the marker records it), as an OOM kill would;
- ``ENCRYPTFACE_TEST_KILL_EXECUTOR_ONCE="<relative path>=<marker file>"``: it SIGKILLs the whole
  executor JVM above it instead (worker -> pyspark daemon -> JVM), as a lost node.

Without either variable nothing is patched.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import os
import signal
import sys
from types import ModuleType

CRASH_ONCE_ENV = "ENCRYPTFACE_TEST_CRASH_ONCE"
KILL_EXECUTOR_ONCE_ENV = "ENCRYPTFACE_TEST_KILL_EXECUTOR_ONCE"
TARGET = "encryptface.pipeline.batch"


def _plan() -> dict[str, tuple[str, str]]:
    """relative path -> (variable, marker file), from the environment."""
    plan = {}
    for variable in (CRASH_ONCE_ENV, KILL_EXECUTOR_ONCE_ENV):
        key, _, marker = os.environ.get(variable, "").partition("=")
        if key:
            plan[key] = (variable, marker)
    return plan


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:  # "pid (name) state ppid ...": name may hold spaces
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def _crash_once(plan: dict[str, tuple[str, str]], relative_path: str) -> None:
    variable, marker = plan.get(relative_path, ("", ""))
    if variable and not os.path.exists(marker):
        open(marker, "w").close()
        if variable == KILL_EXECUTOR_ONCE_ENV:
            os.kill(_parent_of(os.getppid()), signal.SIGKILL)
        os._exit(17)


def _install(module: ModuleType, plan: dict[str, tuple[str, str]]) -> None:
    scrub_one = module._scrub_one

    @functools.wraps(scrub_one)
    def crashing_scrub_one(scrubber, item: dict, *args, **kwargs):  # noqa: ANN001, ANN202
        _crash_once(plan, item["relative_path"])
        return scrub_one(scrubber, item, *args, **kwargs)

    module._scrub_one = crashing_scrub_one


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Finds :data:`TARGET` with the other finders and wraps its loader to patch it once loaded."""

    def __init__(self, plan: dict[str, tuple[str, str]]) -> None:
        self.plan = plan

    def find_spec(self, fullname: str, path, target=None):  # noqa: ANN001, ANN201
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            load(module)
            _install(module, self.plan)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if _plan():
    sys.meta_path.insert(0, _PatchOnImport(_plan()))
