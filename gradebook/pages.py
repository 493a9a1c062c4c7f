"""Render the gradebook's HTML pages from the Jinja2 templates of ``gradebook/templates/``.

Every page (the report, each feedback page) extends ``page.html.j2`` and inlines the one
stylesheet, ``style.css``, so each page is a single self-contained file. Autoescaping is on:
every value a template prints is escaped unless it is :class:`~markupsafe.Markup` built by
trusted code (the stylesheet, the report's script, code marked up by
:func:`gradebook.report_html.mark_shared`). The templates are package data
(``[tool.setuptools.package-data]`` in ``pyproject.toml``), found next to this module.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

TEMPLATES = Path(__file__).with_name("templates")
"""The folder of the templates, the stylesheet and the report's script."""


def asset(name: str) -> Markup:
    """A trusted file of :data:`TEMPLATES` (the stylesheet, a script), to inline as is.

    Args:
        name: File name inside :data:`TEMPLATES` (``"style.css"``).

    Returns:
        The file's text, marked safe (it is ours, never data).
    """
    return Markup((TEMPLATES / name).read_text(encoding="utf-8"))


def stylesheet() -> Markup:
    """The one stylesheet of every GradeTape page (``templates/style.css``)."""
    return asset("style.css")


@functools.cache
def environment() -> Environment:
    """The Jinja2 environment of the templates: autoescape on, the stylesheet a global."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["stylesheet"] = stylesheet()
    return env


def render(template: str, **context: Any) -> str:
    """Render one page.

    Args:
        template: Template name inside :data:`TEMPLATES` (``"feedback.html.j2"``).
        **context: The template's variables (escaped when printed).

    Returns:
        The HTML document.
    """
    return environment().get_template(template).render(**context)
