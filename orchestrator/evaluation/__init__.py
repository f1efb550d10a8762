"""Quality measures of a job's output against a known truth."""
