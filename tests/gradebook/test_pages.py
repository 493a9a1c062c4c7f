"""The HTML pages come from templates: one stylesheet, autoescaped, shipped as package data.

Also the package's public face: every name resolves, and ``import gradebook`` stays cheap.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import gradebook
from autograder.results import QuestionResult, Status, SubmissionResult, TestResult
from gradebook.feedback import render_feedback
from gradebook.pages import TEMPLATES, stylesheet
from gradebook.report import render_report

from .conftest import COURSE
from .memory import memory_rows

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "</td></table><script>alert('x')</script><!--"


def _hostile_rows() -> gradebook.Rows:
    student = "eve<img src=x onerror=alert(1)>"
    result = SubmissionResult(
        student=student,
        assignment="01_tensors",
        notebook="tensors",
        status=Status.GRADED,
        questions=(QuestionResult("q_shape", 0.0, 2.0), QuestionResult("q_dtype", 3.0, 3.0)),
        tests=(TestResult("t.py::test_q_shape", "q_shape", 2.0, 0.0, False, HOSTILE),),
        notices=(f"notice {HOSTILE}",),
        flags=(f"flag {HOSTILE}",),
    )
    rejected = SubmissionResult(
        student, "02_autodiff", "autodiff", Status.REJECTED, reason=f"reason {HOSTILE}"
    )
    return memory_rows(COURSE, [result, rejected])


def _styles(page: str) -> list[str]:
    return re.findall(r"<style>(.*?)</style>", page, flags=re.S)


def test_every_page_inlines_the_one_stylesheet() -> None:
    rows = _hostile_rows()
    student = str(rows.students["student"].iloc[0])
    pages = [render_report(rows), render_feedback(rows, "01_tensors", student)]

    for page in pages:
        assert _styles(page) == [str(stylesheet())]  # one <style>, the shared sheet, whole
        assert "<link" not in page and not re.search(r"""(src|href)=['"](?!data:)""", page)
    assert (TEMPLATES / "style.css").read_text(encoding="utf-8") == str(stylesheet())


def test_hostile_text_is_escaped_on_every_page() -> None:
    rows = _hostile_rows()
    student = str(rows.students["student"].iloc[0])
    pages = {
        "report": render_report(rows),
        "feedback": render_feedback(rows, "01_tensors", student),
        "rejected": render_feedback(rows, "02_autodiff", student),
    }

    for name, page in pages.items():
        assert "<script>alert" not in page, name
        assert "<img src=x" not in page, name
        assert "&lt;img src=x onerror=alert(1)&gt;" in page, name  # the student id, shown
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in pages["feedback"]
    assert "reason &lt;/td&gt;" in pages["rejected"]
    assert "flag &lt;/td&gt;" in pages["report"]  # flags are for instructors only
    assert "flag " not in pages["feedback"]


def test_templates_are_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["gradebook"]
    shipped = [p.relative_to(TEMPLATES.parent).as_posix() for p in TEMPLATES.rglob("*")]
    assert shipped and all(
        any(fnmatch.fnmatch(path, pattern) for pattern in patterns) for path in shipped
    ), f"add a pattern for every file of gradebook/templates to pyproject: {shipped}"


def test_every_public_name_resolves() -> None:
    for name in gradebook.__all__:
        assert getattr(gradebook, name) is not None, name
    assert sorted(gradebook.__all__) == sorted(gradebook._HOMES)


def test_import_gradebook_loads_no_heavy_library() -> None:
    code = (
        "import sys, gradebook; heavy = {'pandas', 'sqlalchemy', 'nbgrader', 'jinja2'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
