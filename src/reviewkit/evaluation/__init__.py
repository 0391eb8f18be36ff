"""Evaluation: pure functions from inputs to statuses, trends, the action log and outlook."""
