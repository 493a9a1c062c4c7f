"""Set up a machine for the course: the nbgrader exchange and the two JupyterLab roles.

Usage (from the course root, with the course's Python environment active)::

    python course/setup_course.py exchange [DIR]        # default $GRADETAPE_EXCHANGE or
                                                        # /srv/nbgrader/exchange
    python course/setup_course.py student [CONFIG_DIR]  # default: this user's Jupyter config
    python course/setup_course.py instructor [CONFIG_DIR]

A role is the files of ``course/<role>/`` merged into a Jupyter config directory:

* ``jupyter_server_config.json``: which nbgrader server extensions run (students get the
  assignment list and Validate only; instructors also formgrader and the course list);
* ``labconfig/page_config.json``: which nbgrader JupyterLab plugins load (students lose
  formgrader, course list and create assignment); the same file that ``jupyter labextension
  disable`` writes;
* ``nbgrader_config.py``: the course id and the exchange.

JSON files are merged key by key into what the directory already holds; an existing
``nbgrader_config.py`` that this script did not write is left alone (the script says so).
On a shared machine, install the student role where every user's JupyterLab reads it, at
the environment's level (``$VIRTUAL_ENV/etc/jupyter``, which outranks ``/etc/jupyter`` and is
where nbgrader enables its extensions), then the instructor role in each instructor's own
``~/.jupyter``, which outranks the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROLES = ("student", "instructor")
DEFAULT_EXCHANGE = "/srv/nbgrader/exchange"
EXCHANGE_MODE = 0o777  # what nbgrader's own ExchangeReleaseAssignment.ensure_root sets
MARKER = "course/setup_course.py"


def _merge(into: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``into`` updated by ``new``, recursively for nested dictionaries."""
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def setup_exchange(root: Path) -> Path:
    """Create the exchange directory, writable by every course user."""
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, EXCHANGE_MODE)
    return root


def install_role(role: str, config_dir: Path) -> list[str]:
    """Merge ``course/<role>/`` into ``config_dir``; returns what was done, one line each."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    source = HERE / role
    done = []
    for name in ("jupyter_server_config.json", "labconfig/page_config.json"):
        target = config_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        current = json.loads(target.read_text()) if target.exists() else {}
        merged = _merge(current, json.loads((source / name).read_text()))
        target.write_text(json.dumps(merged, indent=2) + "\n")
        done.append(f"merged {source / name} into {target}")
    target = config_dir / "nbgrader_config.py"
    if target.exists() and MARKER not in target.read_text():
        done.append(
            f"left {target} alone (not written by this script): copy the settings "
            f"of {source / 'nbgrader_config.py'} into it"
        )
    else:
        shutil.copyfile(source / "nbgrader_config.py", target)
        done.append(f"wrote {target}")
    return done


def _default_config_dir() -> Path:
    from jupyter_core.paths import jupyter_config_dir

    return Path(jupyter_config_dir())


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("exchange", *ROLES))
    parser.add_argument("path", nargs="?", help="exchange directory or Jupyter config directory")
    args = parser.parse_args(argv)
    if args.what == "exchange":
        path = Path(args.path or os.environ.get("GRADETAPE_EXCHANGE", DEFAULT_EXCHANGE))
        try:
            setup_exchange(path)
        except PermissionError as err:
            print(
                f"cannot create the exchange {path}: {err}; run as root or pick a "
                "directory you own (and set GRADETAPE_EXCHANGE to it)",
                file=sys.stderr,
            )
            return 1
        print(
            f"exchange ready: {path} (mode {EXCHANGE_MODE:o}); set GRADETAPE_EXCHANGE={path} "
            "for every course user unless it is the default"
        )
        return 0
    for line in install_role(args.what, Path(args.path) if args.path else _default_config_dir()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
