"""Tool-call test cases and their grading."""
