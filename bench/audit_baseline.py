"""Audit every exercise's grader and write the baseline table (``docs/audit-baseline.md``).

Usage::

    PYTHONPATH=$PWD .venv/bin/python bench/audit_baseline.py --max 30 --out audit-out
    PYTHONPATH=$PWD .venv/bin/python bench/audit_baseline.py 01_tensors 02_tensor_ops

Each exercise's terminal report and HTML page go to ``--out``; the table is printed and,
with ``--markdown PATH``, written as Markdown. Mutant runs are cached (``.gradetape``), so a
second run with the same or a smaller ``--max`` costs only the sandbox start.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    """Run the audits; returns 0."""
    from autograder.load.exercise import exercise_names
    from autograder.review.audit.report import format_result, question_rows, write_html
    from autograder.review.audit.run import SAMPLE_FILE, audit_exercise, pick_sample, sample_toml
    from autograder.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("exercises", nargs="*")
    parser.add_argument("--max", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="audit-out")
    parser.add_argument("--markdown", help="write the table here as Markdown")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="no warm workers: for re-reading a finished audit from the cache (no TF start)",
    )
    parser.add_argument(
        "--write-samples",
        action="store_true",
        help="write autograder/graders/<ex>/audit_sample.toml (2 known-killed mutants) "
        "where it does not exist yet",
    )
    args = parser.parse_args()
    settings = load_settings(Path.cwd(), warm=False if args.cold else None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.exercises or exercise_names(settings):
        start = time.monotonic()
        result = audit_exercise(settings, name, args.max or None, args.workers)
        text = format_result(result)
        (out / f"{name}.txt").write_text(text + "\n")
        if args.write_samples and result.key is not None:
            target = settings.graders_dir / name / SAMPLE_FILE
            chosen = pick_sample(result.outcomes, result.key)
            if not target.exists() and chosen:
                target.write_text(sample_toml(chosen))
        write_html(result, out / f"{name}.html")
        total = question_rows(result)[-1]
        row = {
            "exercise": name,
            "generated": result.generated,
            "mutants": total.mutants,
            "killed": total.killed,
            "trivial": total.trivial,
            "survived": total.survived,
            "candidates": total.candidates,
            "reviewed": total.reviewed,
            "errors": total.errors,
            "kill_rate": total.rate_text,
            "seconds": round(time.monotonic() - start),
        }
        rows.append(row)
        with (out / "baseline.jsonl").open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(text, flush=True)
    table = markdown(rows)
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")
    return 0


def markdown(rows: list[dict[str, object]]) -> str:
    """The baseline as a Markdown table."""
    head = (
        "| exercise | mutants (of generated) | killed (trivially) | survived | "
        "equivalent candidates | reviewed equivalent | kill rate |\n"
        "|---|---:|---:|---:|---:|---:|---:|"
    )
    lines = [
        f"| {r['exercise']} | {r['mutants']} ({r['generated']}) | {r['killed']} ({r['trivial']}) "
        f"| {r['survived']} | {r['candidates']} | {r['reviewed']} | {r['kill_rate']} |"
        for r in rows
    ]
    return "\n".join([head, *lines])


if __name__ == "__main__":
    sys.exit(main())
