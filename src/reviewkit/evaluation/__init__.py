"""Evaluation: pure functions from validated inputs to statuses, trends, the action log and outlook."""
