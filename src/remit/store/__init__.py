"""Database tables, engine factory, migrations, the hash-chained audit trail, queries."""
