"""The analysts' narrative: drafts, placeholders, edits that survive rebuilds."""
