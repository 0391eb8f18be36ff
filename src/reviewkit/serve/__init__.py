"""The review cycle around the pack: people sign in, owners send their updates in rounds, the
office follows and publishes, leaders read their packs (``reviewkit serve``)."""
