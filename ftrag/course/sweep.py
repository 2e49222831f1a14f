"""A results file that fills in row by row as a long sweep runs, and resumes where an interrupted run stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from pathlib import Path


class SweepFile:
    """The JSON record of a sweep: ``{"budget": ..., "rows": ..., <other fields>}``, rewritten after each new row.

    Rows recorded with the same ``budget`` are kept and not redone; with another budget the file starts over.
    ``row_key`` names a row of a list of rows (lesson 03's runs by method, rank and learning rate); without it
    the rows are a dict by name (lesson 05's arms). ``fields`` (the command, the thread count...) are written
    after the rows, in the order given.
    """

    def __init__(self, out: str | Path, budget: dict, *, row_key: Callable[[dict], Hashable] | None = None,
                 **fields):
        self.out, self.row_key = Path(out), row_key
        self.out.parent.mkdir(parents=True, exist_ok=True)
        record = json.loads(self.out.read_text()) if self.out.exists() else {}
        if record.get("budget") != budget:
            record = {"budget": budget, "rows": [] if row_key else {}}
        record.update(fields)
        self.record = record

    @property
    def rows(self) -> list[dict] | dict[str, dict]:
        return self.record["rows"]

    def __contains__(self, key: Hashable) -> bool:
        """Whether the row ``key`` is recorded already."""
        if self.row_key is None:
            return key in self.rows
        return any(self.row_key(row) == key for row in self.rows)

    def add(self, key: Hashable, row: dict) -> None:
        """Record a row and rewrite the file (an interruption loses at most the row being made)."""
        if self.row_key is None:
            self.rows[key] = row
        elif self.row_key(row) != key:
            raise ValueError(f"the row is named {self.row_key(row)!r}, not {key!r}")
        else:
            self.rows.append(row)
        self.save()

    def drop(self, key: Hashable) -> None:
        """Forget the row ``key`` (if recorded), to make it again."""
        if self.row_key is None:
            self.rows.pop(key, None)
        else:
            self.rows[:] = [row for row in self.rows if self.row_key(row) != key]

    def save(self) -> None:
        self.out.write_text(json.dumps(self.record, indent=1) + "\n")
