"""The course world: seeded generators for everything under ``data/`` (run ``python -m ftrag.world``)."""
