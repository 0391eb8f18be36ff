"""Layout: what a pack shows, its charts, section templates and the notebook helper."""
