"""The store's key/value metadata (JSON values), such as the served model version."""

from __future__ import annotations

import json

from .part import Part

SERVED_MODEL = "served_model"
"""The meta key naming the artifact version every server process serves (written at boot and by a reload);
pruning keeps that version."""


class Meta(Part):
    """The ``meta`` table."""

    def get(self, key: str, default=None):
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default

    def get_many(self, *keys: str) -> dict:
        """Several ``meta`` values in one read (missing keys are left out)."""
        rows = self._db.execute(f"SELECT key, value FROM meta WHERE key IN ({','.join('?' * len(keys))})", keys)
        return {row["key"]: json.loads(row["value"]) for row in rows}

    def set(self, key: str, value) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, json.dumps(value)))
