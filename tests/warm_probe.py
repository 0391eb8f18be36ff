"""Run in a child forked from the fork server (tests/forked.py): what a pack's kernel and its
outputs would still import or compile there, on top of what the server preloaded
(reviewkit.run._preload). A batch's workers and the kernels of its packs are forked from that
server, and a single build preloads the same in a thread while its kernel runs.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import json
import pickle
import re
import sys
from pathlib import Path
from typing import Any

#: What a kernel imports as it starts (IPKernelApp: its debugger, which imports debugpy, and
#: pdb for its exception hook), which the server has imported for the kernels forked from it.
KERNEL_START = ("ipykernel.ipkernel", "ipykernel.debugger", "debugpy.server.api", "pdb",
                "IPython.core.debugger")


def what_is_left(view_file: str, result_file: str) -> int:
    """Write to ``result_file`` (JSON) the modules of :data:`KERNEL_START` not yet imported
    here, then export the pack of the pickled view in ``view_file`` as the build does (its
    notebook written, its HTML page) and record the regular expressions soupsieve compiled and
    the notebook validators nbformat made meanwhile."""
    import nbformat
    import soupsieve.css_parser
    from nbformat import json_compat

    from reviewkit.layout.document import pack_document
    from reviewkit.layout.view import Publication
    from reviewkit.outputs.html import to_html

    left = {"modules": [name for name in KERNEL_START if name not in sys.modules],
            "patterns": [], "validators": 0}

    class CountingRe:
        """The ``re`` module as soupsieve's parser sees it, counting what it compiles."""

        def __getattr__(self, name: str) -> Any:
            return getattr(re, name)

        def compile(self, pattern: str, flags: int = 0) -> re.Pattern[str]:
            left["patterns"].append(pattern[:40])
            return re.compile(pattern, flags)

    soupsieve.css_parser.re = CountingRe()  # type: ignore[assignment]
    made = json_compat.FastJsonSchemaValidator.__init__

    def counted(self: Any, *args: Any, **kwargs: Any) -> None:
        left["validators"] += 1
        made(self, *args, **kwargs)

    json_compat.FastJsonSchemaValidator.__init__ = counted  # type: ignore[method-assign]
    view = pickle.loads(Path(view_file).read_bytes())
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("A cell.")]
    nbformat.writes(notebook)  # as pack.ipynb is written
    to_html(pack_document(view, Publication()), notebook)
    Path(result_file).write_text(json.dumps(left), encoding="utf-8")
    return 0
