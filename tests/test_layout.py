"""The house rules a reviewer checks by hand, checked by the suite: ruff clean, packages layered
without import cycles, the library free of Spark, jobs/ holding only Spark entry points and their
plumbing."""

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIBRARY = REPO / "encryptface"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "encryptface", "jobs", "benchmarks",
                             "tests"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def test_library_packages_import_each_other_without_a_cycle_and_never_spark():
    graph: dict[str, set[str]] = {}
    for path in LIBRARY.rglob("*.py"):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        imports = _imports(path)
        assert not any(name.split(".")[0] in ("pyspark", "jobs", "bigdl") for name in imports), module
        graph.setdefault(_package(module), set()).update(
            _package(name) for name in imports if name.startswith("encryptface."))
    for package in graph:
        graph[package].discard(package)

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        return any(nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt}))
                   for nxt in graph.get(start, ()))

    cycles = [package for package in graph if reaches(package, package, {package})]
    assert not cycles, {p: sorted(graph[p]) for p in cycles}


# Not entry points themselves: the CLI, the jobs' shared plumbing (options and the session, reading
# records, the table variants of scrub and restore), the scrub job's Orca backend, and the DataFrame
# API a user's own Spark job calls.
JOB_PLUMBING = ("__init__.py", "cli.py", "common.py", "records.py", "tables.py", "orca_backend.py",
                "dataframe.py")


def test_jobs_hold_spark_code_only_and_every_other_module_is_an_entry_point():
    for path in (REPO / "jobs").glob("*.py"):
        text = path.read_text()
        if path.name not in ("__init__.py", "cli.py", "orca_backend.py"):  # Orca: through bigdl
            assert "pyspark" in text, path.name  # the Spark-free code belongs in encryptface/
        if path.name not in JOB_PLUMBING:
            assert 'if __name__ == "__main__":' in text, path.name
