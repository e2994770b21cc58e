"""`column IN (many values)` as one bound parameter: a JSON array on SQLite, an array on PostgreSQL.

SQLAlchemy's `column.in_(values)` coerces every value into a bound parameter of its own and renders a
statement with that many placeholders on every execution: for the write path's thousands of LSH bucket
keys per step that is most of the statement's cost, in Python, and SQLite caps a statement at 32,766
parameters. `among` binds the whole list once: SQLite reads it with `json_each` (the column's index still
drives the look-up), PostgreSQL with `= ANY(array)`. Any length, one statement, the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY


def among(conn: Connection, column: Any, values: Iterable[int] | Iterable[str]) -> ColumnElement[bool]:
    """`column IN values` with the values in one bound parameter (ints or strings, by the first value)."""
    values = list(values)
    text = bool(values) and isinstance(values[0], str)
    if conn.dialect.name == "postgresql":
        kind = ARRAY(String) if text else ARRAY(BigInteger)
        return column == any_(bindparam(None, values if text else [int(v) for v in values], type_=kind))
    listed = json.dumps(values if text else [int(v) for v in values])
    return column.in_(select(func.json_each(bindparam(None, listed, type_=String)).table_valued("value").c.value))
