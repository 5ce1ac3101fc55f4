"""README and docs/ name only what exists: every relative link (and its #anchor), every repository
path in backticks or code blocks, every `make TARGET`, every `encryptface COMMAND` and every
`python -m MODULE`. README stays a short front door. Text only: no Spark starts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jobs.cli import COMMANDS

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = sorted([README, *(REPO / "docs").rglob("*.md")])
README_MAX_LINES = 220

# Paths that name things outside the repository: run outputs, virtual environments, the shared data,
# URLs. A backticked path starting with one of these is not checked.
OUTSIDE = ("out/", "OUTPUT/", "OUTPUT", "DIR/", ".venv", "../shared", "/", "~")
# What a repository path looks like: a '/' in it, or one of these endings.
PATH_ENDINGS = (".py", ".md", ".toml", ".yaml", ".sh")

FENCE = re.compile(r"^```.*?$(.*?)^```", re.M | re.S)
INLINE_CODE = re.compile(r"`([^`]+)`")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.M)
MAKE = re.compile(r"\bmake[ \t]+([a-z][\w-]*)")
# A command line that runs `encryptface`: at the start of the code, after a shell separator or as
# an installed script (`.venv/bin/encryptface`), not a folder name inside another command.
COMMAND = re.compile(r"(?:^[ \t]*|[;&|(]\s*|/bin/)encryptface[ \t]+([a-z][\w-]*)", re.M)
MODULE = re.compile(r"python -m[ \t]+((?:benchmarks|jobs|encryptface)[\w.]*)")


def _code(text: str) -> list[tuple[str, bool]]:
    """Code in a markdown text: (code, is_block) for fenced blocks and inline spans."""
    blocks = [(match.group(1), True) for match in FENCE.finditer(text)]
    prose = FENCE.sub("", text)
    return blocks + [(" ".join(match.group(1).split()), False) for match in INLINE_CODE.finditer(prose)]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        slug = _slug(heading)
        anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _exists(candidate: str, parent: str = "") -> bool:
    """A repository path (placeholders like <name> match anything) exists, from the root, from the
    library (`archive/schema.py` for `encryptface/archive/schema.py`) or from `parent` (the folder a
    layout tree line sits under); a bare file name may be anywhere."""
    pattern = re.sub(r"<[^>]*>", "*", candidate).rstrip("/")
    if "/" not in pattern:
        return any(REPO.glob(f"**/{pattern}")) or bool(parent and any((REPO / parent).glob(pattern)))
    return any(any(root.glob(pattern)) for root in (REPO, REPO / "encryptface", REPO / (parent or ".")))


def _path_tokens(code: str) -> list[str]:
    tokens = []
    for token in code.split():
        token = token.strip("()[],;:'\"").split("=")[-1]
        if "://" in token or token.startswith(OUTSIDE) or "..." in token or "|" in token:
            continue
        if "/" in token or token.endswith(PATH_ENDINGS):
            if re.fullmatch(r"[\w.<>*/-]+", token) and not token.startswith("-"):
                tokens.append(token)
    return tokens


def _named_paths(text: str) -> list[tuple[str, str]]:
    """(path, parent folder) for every path-like token in code; in a block, a line that starts at
    column 0 with `folder/` makes it the parent of the names on that line and the indented ones."""
    named = []
    for code, is_block in _code(text):
        parent = ""
        for line in code.splitlines() if is_block else [code]:
            first = line.split()[0] if line.split() else ""
            if is_block and not line.startswith(" ") and first.endswith("/"):
                parent = first
            named += [(token, parent) for token in _path_tokens(line)]
    return named


def _make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return {name for names in re.findall(r"^([\w .-]+?):(?!=)", text, re.M) for name in names.split()}


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(REPO)))
def test_relative_links_and_their_anchors_exist(doc):
    missing = []
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if not resolved.exists():
            missing.append(target)
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            missing.append(f"{target} (no such heading)")
    assert not missing, missing


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(REPO)))
def test_named_repository_paths_exist(doc):
    missing = sorted({path for path, parent in _named_paths(doc.read_text()) if not _exists(path, parent)})
    assert not missing, missing


def _command_flags() -> set[str]:
    """Every option the command line's parsers declare (jobs/ holds them all)."""
    return {flag for path in (REPO / "jobs").glob("*.py")
            for flag in re.findall(r"add_argument\(\s*\"(--[a-z][\w-]*)\"", path.read_text())}


def _is_module(name: str) -> bool:
    path = REPO / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(REPO)))
def test_named_make_targets_commands_and_modules_exist(doc):
    code = "\n".join(code for code, _ in _code(doc.read_text()))
    targets = _make_targets()
    missing = [f"make {name}" for name in MAKE.findall(code) if name not in targets]
    missing += [f"encryptface {name}" for name in COMMAND.findall(code) if name not in COMMANDS]
    missing += [f"python -m {name}" for name in MODULE.findall(code) if not _is_module(name)]
    flags = _command_flags()
    for line in code.splitlines():
        if COMMAND.search(line):
            missing += [flag for flag in re.findall(r"(?<![\w-])--[a-z][\w-]*", line) if flag not in flags]
    assert not missing, missing


def test_readme_is_a_short_front_door_linking_every_docs_page():
    text = README.read_text()
    assert len(text.splitlines()) <= README_MAX_LINES
    linked = {(REPO / target.partition("#")[0]).resolve() for target in LINK.findall(text)}
    pages = {path.resolve() for path in (REPO / "docs").rglob("*.md")}
    reachable = set(linked)
    for page in sorted(pages & linked):
        reachable |= {(page.parent / t.partition("#")[0]).resolve() for t in LINK.findall(page.read_text())
                      if not re.match(r"[a-z]+:", t)}
    assert not pages - reachable, sorted(str(p.relative_to(REPO)) for p in pages - reachable)


def test_the_checks_catch_what_they_are_for():
    assert not _exists("tests/test_fuzz_inputs.py") and _exists("tests/pipeline/test_bad_inputs.py")
    assert _exists("jobs/<name>.py") and _exists("docker/", "deploy/") and _exists("archive/schema.py")
    assert not _exists("archive/nowhere.py") and not _exists("nowhere.py")
    named = _named_paths("see `encryptface/nowhere.py` and `out/x/report.html`")
    assert named == [("encryptface/nowhere.py", "")]
    commands = "encryptface\n  encryptface scrub && .venv/bin/encryptface demo"
    assert COMMAND.findall(commands) == ["scrub", "demo"]
    assert COMMAND.findall("git archive HEAD encryptface conf") == []
    assert {"demo", "test"} <= _make_targets() and "scrub" in COMMANDS
    assert {"--input", "--password-file", "--set", "--decoys", "--photo"} <= _command_flags()
    assert _slug("BigDL Orca backend (`scrub --backend orca`)") == "bigdl-orca-backend-scrub---backend-orca"
