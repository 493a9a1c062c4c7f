"""GradeTape gradebook: storage, aggregation, exports."""
