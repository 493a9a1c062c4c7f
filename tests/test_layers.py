"""The tree is the pipeline: each stage imports only the stages before it (no cycles).

load → run → judge → pipeline → (gradebook stores), review tools beside, integrations and
the CLI on top. ``runtime/`` runs inside the sandbox and imports nothing of the trusted side.
Every import counts, at module level or inside a function.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = {"settings", "results", "nbgrader_steps"}
ALLOWED = {
    "runtime": set(),
    "settings": set(),
    "results": set(),
    "nbgrader_steps": set(),
    "load": {"settings", "results"},
    "run": {"load", "runtime", "settings", "results"},
    "judge": {"load", "run", "settings", "results"},
    "pipeline": {"load", "run", "judge", "review", "gradebook"} | SHARED,
    "review": {"load", "run", "runtime", "judge", "gradebook"} | SHARED,
    "integrations": {"load", "run", "judge", "pipeline", "review", "gradebook"} | SHARED,
    "cli": {"load", "run", "judge", "pipeline", "review", "integrations", "gradebook"} | SHARED,
    "gradebook": {"results"},
    "autograder": {"load", "run", "judge", "pipeline", "review", "integrations"} | SHARED,
}


def _stage(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "gradebook":
        return "gradebook"
    if parts[0] != "autograder":
        return None
    return parts[1] if len(parts) > 1 else "autograder"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def _files() -> list[Path]:
    return [
        p
        for package in ("autograder", "gradebook")
        for p in (ROOT / package).rglob("*.py")
        if "graders" not in p.relative_to(ROOT).parts
    ]


def test_every_stage_imports_only_the_stages_before_it():
    wrong = []
    for path in _files():
        rel = path.relative_to(ROOT).with_suffix("")
        here = _stage(".".join(rel.parts))
        for module in _imports(path):
            there = _stage(module)
            if there is None or there == here or module in ("autograder", "gradebook"):
                continue
            if there not in ALLOWED[here]:
                wrong.append(f"{rel}: {here} imports {module} ({there})")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_sandbox_runtime_imports_nothing_of_the_trusted_side():
    for path in (ROOT / "autograder" / "runtime").rglob("*.py"):
        bad = {m for m in _imports(path) if m.split(".")[0] in ("autograder", "gradebook")}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_stage_rules_have_no_cycle():
    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt}))
            for nxt in ALLOWED.get(start, set())
        )

    assert [s for s in ALLOWED if reaches(s, s)] == []
