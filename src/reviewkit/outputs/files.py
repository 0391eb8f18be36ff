"""The names of a pack's files, in a module of their own: the pack's lock, its swap and the
readers of a pack folder need the names without importing the outputs that write the files
(nbformat, the layout, WeasyPrint). Each output takes its file's name from here."""

from __future__ import annotations

NOTEBOOK_FILE = "pack.ipynb"
HTML_FILE = "pack.html"
PDF_FILE = "pack.pdf"
WORKBOOK_FILE = "pack.xlsx"
#: The contract's summary of a pack.
SUMMARY_FILE = "summary.json"
#: The manifest: a pack folder is found by it.
MANIFEST_FILE = "manifest.json"
