"""Alembic migrations of the vastbid schema (``env.py``, ``versions/``); run through ``vastbid.store.migrate``."""
