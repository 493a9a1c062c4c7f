"""The ``gradetape`` command: argument parsing, input checks, the commands, progress, the demo.

:mod:`.main` is the parser and the dispatch, :mod:`.checks` each command's input checks (on
top of :mod:`.preflight`), :mod:`.commands` what each command does.
"""
