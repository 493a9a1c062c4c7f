"""Start-up without the Jupyter server: nbgrader's database layer alone, for quick commands.

``import nbgrader.api`` runs ``nbgrader/__init__.py`` first, which imports nbgrader's four
Jupyter server extensions (jupyter_server, tornado handlers, nbconvert, the exchange) only
to define the hooks a Jupyter server calls. And ``jsonschema`` (through nbformat) imports
``rfc3987_syntax`` when it is installed, which builds an Earley parser for IRIs at import
time. Together that is most of the start-up of ``gradetape export`` and ``report``, which
need neither: they read the gradebook with :mod:`nbgrader.api` and SQLAlchemy.

:func:`light_nbgrader` registers ``nbgrader`` as a bare package (its submodules import
normally, ``__version__`` is set; the server-extension hooks are left out) and tells
jsonschema that ``rfc3987_syntax`` is absent (its optional ``iri`` format check, which
nothing here uses, is then skipped). Only for a process that runs no Jupyter server and no
nbgrader app: ``gradetape export`` and ``gradetape report`` call it before importing
:mod:`gradebook`; commands that release or grade do not.
"""

from __future__ import annotations

import importlib.util
import sys
import types


def light_nbgrader() -> bool:
    """Make ``import nbgrader.<submodule>`` skip nbgrader's server extensions.

    Does nothing when nbgrader (or jsonschema) is already imported, or is not installed.

    Returns:
        Whether the bare package was registered.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    if "nbgrader" in sys.modules:
        return False
    spec = importlib.util.find_spec("nbgrader")
    if spec is None or not spec.submodule_search_locations:
        return False
    package = types.ModuleType("nbgrader", "nbgrader, without its Jupyter server extensions")
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = spec.origin
    package.__spec__ = spec
    package.__package__ = "nbgrader"
    sys.modules["nbgrader"] = package
    from nbgrader._version import __version__

    package.__version__ = __version__  # type: ignore[attr-defined]
    return True
