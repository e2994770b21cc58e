"""Files -> Article: .txt/.md, .html/.htm, .json, .jsonl/.ndjson and .csv; bad input becomes ReadFailure.

Reading never raises for bad input: every unreadable file or record is yielded as a
`ReadFailure(origin, reason)` and reading carries on with the next record or file.

Decisions worth knowing:
- origin is "path" for one-article files, "path:LINE" for JSON Lines and CSV (the 1-based file
  line where the record starts) and "path:INDEX" for a JSON array (0-based index).
- Encoding: UTF-8 (with or without BOM), UTF-16 when it has a BOM; otherwise, only if the file has
  no NUL bytes and is not mostly control bytes, cp1252 and then latin-1 (which accepts anything).
  NUL bytes without a UTF-16 BOM mean "binary file". JSONL/CSV are decoded line by line.
  UTF-8 with a few stray bytes (at most 3 invalid sequences or 1% of the non-ASCII bytes, and at
  least twice as many valid non-ASCII characters) stays UTF-8, each stray sequence becoming U+FFFD:
  only text that is not mostly UTF-8 falls back to cp1252 (which would turn "café" into "cafÃ©").
- Title when a record has none: the first sentence of the body, cut to ~120 characters at a word
  boundary. In .txt/.md the first line is the title instead (and leaves the body) when it is a
  Markdown heading, or shorter than 150 characters, followed by more text, and not a hard-wrapped
  line running on into the next.
- A record with an empty or whitespace-only body is a ReadFailure ("no text").
- A CSV quote that never closes would swallow every later row into one field: it is a ReadFailure
  at its record ("unterminated quote starting at line N; rest of file skipped"); earlier rows stay.
- HTML: the extracted main text must hold at least 5 words outside the page's link texts (each
  Chinese/Japanese character counts as a word), else the page is a ReadFailure ("no main text
  found"): menus and footers that slip through extraction ("Home World Contact") are only links.
  A page whose text is all links (an index of teasers) fails too; it is not one article.
- No text handed out contains lone surrogates (JSON's "\\ud800" escapes, a surrogateescape'd
  `source`): each becomes U+FFFD in the title, body, every other field and the keys and values
  kept in `extra`, all in one place (`fields._assemble`), and the record is read normally.

Modules, each importing only ones listed after it (no cycles): `walk` (given paths -> files,
`read_paths`, `estimate_records`), `formats` (one reader per suffix, the per-file dispatch),
`decode` (bytes -> text), `fields` (record -> Article), `clean` (text cleaning, derived titles).
This package only re-exports the public API.
"""

from archive.readers.clean import clean_text, clean_title, title_from_body
from archive.readers.fields import article_from_record
from archive.readers.formats import SUPPORTED_SUFFIXES
from archive.readers.walk import estimate_records, read_paths

__all__ = [
    "SUPPORTED_SUFFIXES",
    "article_from_record",
    "clean_text",
    "clean_title",
    "estimate_records",
    "read_paths",
    "title_from_body",
]
