"""The PostgreSQL keyword index's schema: configuration, columns, GIN index, statistics and triggers.

Everything is created idempotently (a second run changes nothing) and kept by triggers, so
every writer maintains it inside its own transaction. See `postgres.py` for what each part is for.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

CONFIG = "archive_english"
BODY_CHARS = 200_000  # a tsvector holds at most 1 MB of lexemes: the rest of a book-length body is not indexed

# Porter stemming (Snowball's `porter`, the stemmer of FTS5's `porter` tokenizer; `english`, i.e.
# Porter2, where a server lacks it) without a stop-word list: like FTS5, every word is indexed
# ("the who", "to be or not to be" and "don't" stay searchable; the ranking drops stop words
# from longer queries itself, archive.search.terms). unaccent folds diacritics when the
# extension can be installed (it is "trusted": a database owner may), like FTS5's remove_diacritics.
_CONFIGURATION = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = '{CONFIG}'
                 AND cfgnamespace = current_schema()::regnamespace) THEN
    BEGIN
      CREATE TEXT SEARCH DICTIONARY {CONFIG}_stem (TEMPLATE = snowball, Language = porter);
    EXCEPTION WHEN OTHERS THEN
      CREATE TEXT SEARCH DICTIONARY {CONFIG}_stem (TEMPLATE = snowball, Language = english);
    END;
    CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = pg_catalog.english);
    ALTER TEXT SEARCH CONFIGURATION {CONFIG}
      ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part WITH {CONFIG}_stem;
    BEGIN
      CREATE EXTENSION IF NOT EXISTS unaccent;
      ALTER TEXT SEARCH CONFIGURATION {CONFIG}
        ALTER MAPPING FOR word, hword, hword_part WITH unaccent, {CONFIG}_stem;
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE 'unaccent is not available: keyword search keeps diacritics (%)', SQLERRM;
    END;
  END IF;
END $$
"""

_FUNCTIONS = (
    # Punctuation separates words, as in the query parser (archive.query.word_parts).
    """
    CREATE OR REPLACE FUNCTION archive_search_text(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT regexp_replace(coalesce(value, ''), '[[:punct:]]+', ' ', 'g') $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION archive_search_document() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.search_vector :=
        setweight(to_tsvector('{CONFIG}', archive_search_text(NEW.title)), 'A') ||
        setweight(to_tsvector('{CONFIG}', archive_search_text(left(NEW.body, {BODY_CHARS}))), 'B');
      NEW.search_length := (SELECT coalesce(sum(cardinality(e.positions)), 0)
                            FROM unnest(NEW.search_vector) AS e);
      RETURN NEW;
    END $$
    """,
    # Statement level: one INSERT/UPDATE/DELETE of many articles updates the statistics once.
    """
    CREATE OR REPLACE FUNCTION archive_search_statistics() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN
        UPDATE keyword_terms AS t SET df = t.df - gone.n
        FROM (SELECT e.lexeme, count(*) AS n FROM old_rows AS o, unnest(o.search_vector) AS e
              GROUP BY e.lexeme) AS gone
        WHERE t.lexeme = gone.lexeme;
        UPDATE keyword_totals SET docs = docs - s.n, tokens = tokens - s.len
        FROM (SELECT count(*) AS n, coalesce(sum(search_length), 0) AS len FROM old_rows
              WHERE search_vector IS NOT NULL) AS s;
      END IF;
      IF TG_OP <> 'DELETE' THEN
        INSERT INTO keyword_terms AS t (lexeme, df)
        SELECT e.lexeme, count(*) FROM new_rows AS n, unnest(n.search_vector) AS e
        GROUP BY e.lexeme ORDER BY e.lexeme
        ON CONFLICT (lexeme) DO UPDATE SET df = t.df + excluded.df;
        UPDATE keyword_totals SET docs = docs + s.n, tokens = tokens + s.len
        FROM (SELECT count(*) AS n, coalesce(sum(search_length), 0) AS len FROM new_rows
              WHERE search_vector IS NOT NULL) AS s;
      END IF;
      RETURN NULL;
    END $$
    """,
)

_TABLES = (
    "ALTER TABLE articles ADD COLUMN IF NOT EXISTS search_vector tsvector",
    "ALTER TABLE articles ADD COLUMN IF NOT EXISTS search_length integer",
    # Kept in the row (compressed if need be; out of line only as a last resort), so matching and
    # scoring read it with the row instead of fetching it from the TOAST table at every use: the
    # body moves out instead. Twice as fast on SciFact.
    "ALTER TABLE articles ALTER COLUMN search_vector SET STORAGE MAIN",
    "CREATE INDEX IF NOT EXISTS ix_articles_search_vector ON articles USING gin (search_vector)",
    "CREATE TABLE IF NOT EXISTS keyword_terms (lexeme text PRIMARY KEY, df integer NOT NULL)",
    (
        "CREATE TABLE IF NOT EXISTS keyword_totals (id smallint PRIMARY KEY CHECK (id = 1), "
        "docs bigint NOT NULL, tokens bigint NOT NULL)"
    ),
    "INSERT INTO keyword_totals (id, docs, tokens) VALUES (1, 0, 0) ON CONFLICT (id) DO NOTHING",
)

_TRIGGERS = (
    (
        "CREATE OR REPLACE TRIGGER archive_search_document BEFORE INSERT OR UPDATE OF title, body ON articles "
        "FOR EACH ROW EXECUTE FUNCTION archive_search_document()"
    ),
    (
        "CREATE OR REPLACE TRIGGER archive_search_inserted AFTER INSERT ON articles "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION archive_search_statistics()"
    ),
    (
        "CREATE OR REPLACE TRIGGER archive_search_updated AFTER UPDATE ON articles "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION archive_search_statistics()"
    ),
    (
        "CREATE OR REPLACE TRIGGER archive_search_deleted AFTER DELETE ON articles "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION archive_search_statistics()"
    ),
)


def create_schema(conn: Connection) -> None:
    """Create what is missing, index the articles that have no vector yet, and recount when the totals are off."""
    conn.execute(text(_CONFIGURATION))
    for statement in (*_TABLES, *_FUNCTIONS, *_TRIGGERS):
        conn.execute(text(statement))
    # Articles stored before the index existed: touching the title runs the document trigger.
    backfilled = conn.execute(text("UPDATE articles SET title = title WHERE search_vector IS NULL")).rowcount
    indexed = conn.execute(text("SELECT count(*) FROM articles WHERE search_vector IS NOT NULL")).scalar_one()
    counted = conn.execute(text("SELECT docs FROM keyword_totals")).scalar_one()
    if backfilled or int(indexed) != int(counted):
        recount(conn)


def recount(conn: Connection) -> None:
    """Recompute the document frequencies and totals from the stored vectors."""
    conn.execute(text("DELETE FROM keyword_terms"))
    conn.execute(
        text(
            "INSERT INTO keyword_terms (lexeme, df) SELECT e.lexeme, count(*) "
            "FROM articles AS a, unnest(a.search_vector) AS e GROUP BY e.lexeme"
        )
    )
    conn.execute(
        text(
            "UPDATE keyword_totals SET docs = s.n, tokens = s.len FROM (SELECT count(*) AS n, "
            "coalesce(sum(search_length), 0) AS len FROM articles WHERE search_vector IS NOT NULL) AS s"
        )
    )


def clean_pending(conn: Connection) -> int:
    """Move the GIN index's pending list (entries written fast, unsorted, searched linearly until VACUUM or
    the list's limit merges them) into the index proper; returns the pages merged."""
    return int(conn.execute(text("SELECT gin_clean_pending_list('ix_articles_search_vector'::regclass)")).scalar_one())
