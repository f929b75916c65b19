"""Alembic migrations of the Remit database (run them with ``remit db upgrade``)."""
