"""The FTS5 table over `articles` (external content: title and body) and the triggers that keep it in step."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, Integer, column, table, text

from archive.store.keyword.fts5_syntax import TABLE

FTS = table(TABLE, column("rowid", Integer))  # the table as statements name it: its rowid is the article id

TOKENIZE = "tokenize='porter unicode61 remove_diacritics 2'"


def matches(name: str, expression: str) -> ColumnElement[bool]:
    """`article_fts MATCH :name`, bound to `expression`."""
    return text(f"{TABLE} MATCH :{name}").bindparams(**{name: expression})


def create_schema(conn: Connection) -> None:
    """Create the table and its triggers on `articles`; backfill it when its row count is behind."""
    conn.execute(
        text(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
            f"title, body, content='articles', content_rowid='id', {TOKENIZE})"
        )
    )
    t = TABLE
    # External content: a delete must pass the old values, which only a trigger reliably has.
    for statement in (
        (
            f"CREATE TRIGGER IF NOT EXISTS {t}_ai AFTER INSERT ON articles BEGIN "
            f"INSERT INTO {t}(rowid, title, body) VALUES (new.id, new.title, new.body); END"
        ),
        (
            f"CREATE TRIGGER IF NOT EXISTS {t}_ad AFTER DELETE ON articles BEGIN "
            f"INSERT INTO {t}({t}, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); END"
        ),
        (
            f"CREATE TRIGGER IF NOT EXISTS {t}_au AFTER UPDATE OF title, body ON articles BEGIN "
            f"INSERT INTO {t}({t}, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); "
            f"INSERT INTO {t}(rowid, title, body) VALUES (new.id, new.title, new.body); END"
        ),
    ):
        conn.execute(text(statement))
    indexed = conn.execute(text(f"SELECT count(*) FROM {TABLE}_docsize")).scalar_one()
    stored = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
    if int(indexed) != int(stored):
        conn.execute(text(f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')"))


def merge_segments(conn: Connection) -> int:
    """Merge the index's segments into one (FTS5's 'optimize'); returns how many there were.

    Every write transaction adds a segment, and FTS5 merges them only in part as it goes (its automerge),
    so a bulk load leaves dozens (27 after loading 1,000,000 articles in steps of 5,000). A query probes each
    segment for each word, and a look-up of a few ids per word (`words_in`) pays that per id."""
    count = int(conn.execute(text(f"SELECT count(DISTINCT segid) FROM {TABLE}_idx")).scalar_one())
    if count > 1:
        conn.execute(text(f"INSERT INTO {TABLE}({TABLE}) VALUES ('optimize')"))
    return count
