"""The files of a pack, each written by one output from the pack's document and its executed
notebook (:class:`reviewkit.outputs.base.Output`): the analyst's notebook, the HTML page, the
data files, the workbook and the PDF, then the manifest that hashes them all
(:mod:`reviewkit.outputs.pack` lists them); and the audit that checks the pages say what the
pack's figures say (:mod:`reviewkit.outputs.audit`).
"""
