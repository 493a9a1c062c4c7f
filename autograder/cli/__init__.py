"""The ``gradetape`` command: argument parsing, input checks, progress, the demo."""
