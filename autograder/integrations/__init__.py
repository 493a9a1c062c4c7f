"""GradeTape inside other systems: nbgrader's autograde and Validate, Gradescope bundles."""
