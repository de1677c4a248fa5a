"""Alembic's scripts for mie's database (env.py, versions/). Run through `mie.store.schema`, never alembic.ini."""
