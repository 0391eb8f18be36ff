"""Loaded first by every pytest process (``-p _start_up`` in pyproject.toml's addopts, with
``tests`` on ``pythonpath``), before the plugins pytest finds installed: the command line's
start-up speed-ups (:mod:`reviewkit._speedups`) for the test processes too.

nbval's plugin imports nbformat, which imports jsonschema, which compiles the grammar of
``rfc3987_syntax`` on import: about a second of CPU in the controller and in each worker, for
a format check nothing here uses. The command line blocks that import the same way.
"""

from reviewkit import _speedups

_speedups.apply()
