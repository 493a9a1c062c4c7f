"""Review flags: student code an instructor should look at; flags never change a score.

Text patterns (call frames, ``sys.modules``, the grading machinery's names), dynamic
lookups (:mod:`autograder.judge.dynamic`), assignments to attributes of imported modules
and reads of public datasets (:mod:`autograder.judge.public_data`), each with its cell.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping

from autograder.judge.dynamic import dynamic_lookups
from autograder.judge.public_data import parsed_data_flags
from autograder.judge.source_tree import Tree, parse_cells, parse_source
from autograder.load.readers import DEFAULT_LIMITS, ReaderLimits

#: Patterns that suggest a notebook inspects or patches the grader, with a readable label.
REVIEW_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        r"sys\s*\.\s*_getframe|inspect\s*\.\s*(currentframe|stack|getouterframes)|\.f_back\b",
        "inspects call frames",
    ),
    (r"gc\s*\.\s*(get_objects|get_referrers|get_referents)", "searches the garbage collector"),
    (
        r"sys\s*\.\s*modules\s*\[[^\]\n]{0,200}\]\s*=|sys\s*\.\s*modules\s*\.\s*(pop|update|setdefault)|"
        r"del\s+sys\s*\.\s*modules",
        "modifies sys.modules",
    ),
    (r"(sys|threading)\s*\.\s*(settrace|setprofile)", "installs a trace function"),
    (
        r"^[ \t]*(import|from)\s+(pytest|_pytest|pluggy|autograder|gradetape_runtime|nbgrader)\b",
        "imports the grading machinery",
    ),
    (r"gradetape_runtime|_pytest|\bpluggy\b|GraderPlugin", "mentions the grading machinery"),
    (r"\bctypes\b", "uses ctypes"),
    (r"/proc/|/job/", "reads process or job files"),
    (r"builtins\s*\.\s*\w+\s*=|__builtins__\s*\[", "replaces builtins"),
)


#: Names that usually hold imported modules, whether or not the student imported them.
MODULE_ALIASES = frozenset(
    {"tf", "np", "keras", "tensorflow", "numpy", "layers", "sys", "os", "random", "math"}
)


def _patches(tree: ast.Module) -> list[tuple[int, str]]:
    """Assignments to (or deletions of) attributes of imported modules: ``tf.Tensor = ...``."""
    modules = set(MODULE_ALIASES)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign | ast.Delete):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store | ast.Del):
                    root = sub.value
                    while isinstance(root, ast.Attribute):
                        root = root.value
                    if isinstance(root, ast.Name) and root.id in modules:
                        try:
                            found.append((sub.lineno, ast.unparse(sub)))
                        except (RecursionError, ValueError):
                            found.append((sub.lineno, sub.attr))
    return found


def review_flags(
    student_code: Mapping[str, str],
    limits: ReaderLimits = DEFAULT_LIMITS,
    parsed: Mapping[str, Tree] | None = None,
) -> list[str]:
    """Review flags: code that reaches into the grader, hides lookups, reads public labels.

    Besides the text patterns, every dynamic lookup (:mod:`autograder.judge.dynamic`) and every
    assignment to an attribute of an imported module (``tf.Tensor = ...``) is flagged with
    its line. Flags never change a score. ``parsed`` is :func:`parse_cells` of
    ``student_code`` when the caller parsed the cells already (once per submission).
    """
    if parsed is None:
        parsed = parse_cells(student_code, limits)
    flags: list[str] = []
    for where, source in student_code.items():
        if len(source) > limits.static_source_chars:
            flags.append(f"cell `{where}` is too large to scan ({len(source)} characters)")
            source = source[: limits.static_source_chars]
            tree = parse_source(source, limits)  # the scanned head, not the whole cell
        else:
            tree = parsed[where] if where in parsed else parse_source(source, limits)
        for pattern, label in REVIEW_PATTERNS:
            if re.search(pattern, source, flags=re.MULTILINE):
                flags.append(f"cell `{where}` {label}")
        flags.extend(f"cell `{where}` {label}" for label in parsed_data_flags(source, tree))
        if isinstance(tree, str):
            flags.append(f"cell `{where}` is too deeply nested to analyse")
            continue
        if tree is None:
            continue
        for lookup in dynamic_lookups(tree):
            flags.append(f"cell `{where}` line {lookup.line}: dynamic lookup ({lookup.what})")
        for line, target in _patches(tree):
            flags.append(f"cell `{where}` line {line}: patches a module (assigns `{target}`)")
    return sorted(set(flags))
