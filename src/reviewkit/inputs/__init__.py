"""Inputs: params, catalog, measurements and the optional files, read and validated."""
