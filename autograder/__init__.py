"""GradeTape autograder: load, sandbox, compare."""
