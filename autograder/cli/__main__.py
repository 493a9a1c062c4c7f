"""``python -m autograder.cli``: the ``gradetape`` command."""

from autograder.cli.main import main

raise SystemExit(main())
