"""The article card: what a match set reads of each article (id, published_at, source, author), from the
covering index `ix_articles_card` (migration 0013) instead of the article's row.

On SQLite a row stores its columns in declaration order, and `articles` declares the body before the
source and the date: reading those two for each of thousands of matches walked every long body's
overflow pages. SQLite's planner always looks a row up by its integer primary key, so statements over
a match set name the index (`INDEXED BY`) through `CARDS`, an alias of `articles` that renders the
hint on SQLite only (PostgreSQL keeps long bodies out of line and plans for itself). Measured on the
whole Reuters archive: the per-(source, day) count of `oil OR prices OR opec` 7.4 -> 2.5 ms, of `said`
17.0 -> 8.4 ms (docs/search.md, "Cost of a search").

Only columns of the index may be read through `CARDS` on SQLite beyond the primary key, or each match
pays the row look-up again (the hint still holds; it is just slower).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Alias
from sqlalchemy.ext.compiler import compiles

from archive.store.models import ArticleRow

CARD_INDEX = "ix_articles_card"


class _CardAlias(Alias):
    """`articles AS card`, read through the card index on SQLite."""

    inherit_cache = True


@compiles(_CardAlias, "sqlite")
def _card_on_sqlite(element: _CardAlias, compiler: Any, **kw: Any) -> str:
    sql = compiler.visit_alias(element, **kw)
    return f"{sql} INDEXED BY {CARD_INDEX}" if kw.get("asfrom") else sql


CARDS: Any = _CardAlias._construct(ArticleRow.__table__, name="card")
