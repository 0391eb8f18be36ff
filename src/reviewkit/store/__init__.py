"""The action, decision, narrative and pack store (SQLite or PostgreSQL through SQLAlchemy)."""
