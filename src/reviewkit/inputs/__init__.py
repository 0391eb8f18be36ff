"""Inputs: params, catalog, measurements and the optional monthly and quarterly files, read and validated."""
