"""The command line: build, draft, publish, validate, narrative, actions, decisions, minutes."""

from reviewkit.cli.app import main

__all__ = ["main"]
