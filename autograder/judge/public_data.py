"""Review flags for solution code that could look held-out labels up instead of learning them.

Without a private evaluation file (``[heldout]`` in ``gradetape.toml``) the held-out digits
are rows of the public ``sklearn.datasets.load_digits``, whose labels any student can load.
No sandbox rule can tell "reads the labels" from "trains a model", so the trusted side reads
the student's solution cells (never the locked cells) and flags, for an instructor:

* a public dataset reached by import, name, attribute or string (``load_digits``,
  ``fetch_openml``, ``sklearn.datasets``, ``keras.datasets``, ``tensorflow_datasets``, ...);
* the labels of a dataset object (``.target``, ``["target"]``);
* a file read (``open``, ``np.load``, ``np.loadtxt``, ``pd.read_csv``, ``Path.read_bytes``,
  ``gzip.open``, ``pkgutil.get_data``, ...): a dataset file found on disk;
* a table embedded in the code (many literal values or long literal strings): labels
  pasted in as data.

Flags never change a score. Dynamic lookups with built strings (``getattr``,
``__import__``) are flagged by their own check in :mod:`autograder.judge.static`.
"""

from __future__ import annotations

import ast
import re

from autograder.judge.source_tree import transform

#: Names and attributes of loaders of public datasets (sklearn, Keras, TFDS, OpenML).
LOADERS = frozenset(
    {
        "load_digits",
        "fetch_openml",
        "load_iris",
        "load_sample_images",
        "tensorflow_datasets",
        "tfds",
        "torchvision",
        "openml",
    }
)
#: Modules whose import (or a string naming them) reaches a public dataset.
MODULES = ("sklearn.datasets", "keras.datasets", "tensorflow_datasets", "torchvision", "openml")
#: Words that, inside a string literal, name a public dataset or its files.
STRING_WORDS = re.compile(
    r"load_digits|fetch_openml|sklearn|keras\.datasets|tensorflow_datasets|digits\.(csv|rst)|"
    r"\bmnist\b|openml",
    re.IGNORECASE,
)
#: Callables that read files: bare names, and attribute names (``np.load``, ``p.read_bytes``).
READ_NAMES = frozenset({"open"})
READ_ATTRIBUTES = frozenset(
    {
        "load",
        "loadtxt",
        "genfromtxt",
        "fromfile",
        "read_csv",
        "read_table",
        "read_pickle",
        "read_parquet",
        "read_bytes",
        "read_text",
        "get_data",
        "files",
        "open_binary",
        "open_text",
    }
)
#: Modules whose ``load`` is not a file read of a dataset (``json.load`` reads a file too,
#: but only the attribute of a data module is flagged as a dataset load).
LOAD_OWNERS = frozenset({"np", "numpy", "pickle", "joblib", "torch"})
#: An embedded table: more literal numbers than this in one cell, or more literal characters.
MAX_LITERAL_VALUES = 400
MAX_LITERAL_CHARS = 4000

LABELS = {
    "dataset": "loads a public dataset itself ({what}): held-out test inputs may be rows of it, "
    "check that it does not look their labels up",
    "target": "reads a dataset's labels ({what}): check that predictions are not looked up",
    "read": "reads a file ({what}): check that it is not a dataset or its labels",
    "table": "embeds a table of literal data ({what}): check that it is not a label lookup",
}


def public_data_flags(source: str) -> list[str]:
    """Readable flags (without the cell name) for one cell of student code, sorted."""
    try:
        tree: ast.Module | None = ast.parse(transform(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = None
    return parsed_data_flags(source, tree)


def parsed_data_flags(source: str, tree: ast.Module | str | None) -> list[str]:
    """:func:`public_data_flags` of a cell parsed already (once per submission).

    ``tree`` is :func:`autograder.judge.source_tree.parse_source`'s result: a syntax tree is
    read as it is; ``None`` (a syntax error) or a reason (code too deep to parse) falls back
    to the text.
    """
    if not isinstance(tree, ast.Module):
        return _text_flags(source)
    found: dict[str, set[str]] = {}
    numbers = chars = 0
    for node in ast.walk(tree):
        for kind, what in _node_flags(node):
            found.setdefault(kind, set()).add(what)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str | bytes):
                chars += len(node.value)
            elif isinstance(node.value, int | float | complex) and not isinstance(node.value, bool):
                numbers += 1
    if numbers > MAX_LITERAL_VALUES:
        found.setdefault("table", set()).add(f"{numbers} literal numbers")
    if chars > MAX_LITERAL_CHARS:
        found.setdefault("table", set()).add(f"{chars} characters of literal strings")
    return sorted(LABELS[kind].format(what=", ".join(sorted(w))) for kind, w in found.items())


def _node_flags(node: ast.AST) -> list[tuple[str, str]]:
    """``(kind, what)`` for one AST node."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        module = (node.module or "") if isinstance(node, ast.ImportFrom) else ""
        names = [f"{module}.{a.name}".strip(".") for a in node.names] + [module]
        hits = [n for n in names if any(n == m or n.startswith(m + ".") for m in MODULES)]
        hits += [a.name for a in node.names if a.name.rsplit(".", 1)[-1] in LOADERS]
        return [("dataset", f"import {hits[0]}")] if hits else []
    if isinstance(node, ast.Name) and node.id in LOADERS:
        return [("dataset", node.id)]
    if isinstance(node, ast.Attribute):
        if node.attr in LOADERS:
            return [("dataset", f".{node.attr}")]
        if node.attr == "datasets":
            return [("dataset", ".datasets")]
        if node.attr in {"target", "target_names"}:
            return [("target", f".{node.attr}")]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if node.value in {"target", "target_names"}:
            return [("target", repr(node.value))]
        match = STRING_WORDS.search(node.value)
        if match:
            return [("dataset", f"the string {match.group(0)!r}")]
    if isinstance(node, ast.Call):
        return _read_flags(node.func)
    return []


def _read_flags(func: ast.expr) -> list[tuple[str, str]]:
    if isinstance(func, ast.Name) and func.id in READ_NAMES:
        return [("read", f"{func.id}(...)")]
    if isinstance(func, ast.Attribute) and func.attr in READ_ATTRIBUTES:
        owner = func.value.id if isinstance(func.value, ast.Name) else ""
        if func.attr == "load" and owner not in LOAD_OWNERS:
            return []
        if func.attr == "files" and owner not in {"resources", "importlib_resources"}:
            return []
        return [("read", f"{owner + '.' if owner else '.'}{func.attr}(...)")]
    if isinstance(func, ast.Attribute) and func.attr == "open" and isinstance(func.value, ast.Name):
        if func.value.id in {"gzip", "bz2", "lzma", "io", "os", "zipfile", "tarfile"}:
            return [("read", f"{func.value.id}.open(...)")]
    return []


def _text_flags(source: str) -> list[str]:
    """For a cell that does not parse: the dataset words found in its text."""
    words = sorted({m.group(0) for m in re.finditer(r"\b(" + "|".join(LOADERS) + r")\b", source)})
    if re.search(r"sklearn\s*\.\s*datasets|\.target\b", source):
        words.append("sklearn.datasets / .target")
    return [LABELS["dataset"].format(what=", ".join(words))] if words else []
