"""The query language: user string -> `Query` (optional words, a Boolean constraint, filters); pure.

Modules: `words` (tokens as the keyword index sees them, caps), `nodes` (the Boolean tree),
`lexer` (string -> tokens and filters), `parser` (tokens -> Query), `model` (Query,
parse_date), `compile` (the dialect-neutral shape of a keyword match).

Query language (documented for users in the README and docs/search.md):

- **bare words are optional and rank**: BM25 favours documents with more and rarer words,
  so a long natural-language question still finds its answer. ``OR`` between words is
  the default (``coffee OR cocoa`` is ``coffee cocoa``); lower-case ``or``/``and``/``not``
  are ordinary words.
- **``a AND b``** requires both. Precedence is NOT > AND > OR: ``a OR b AND c`` is
  ``a OR (b AND c)``. Parentheses group: ``(coffee OR cocoa) AND brazil``.
- **``+word``** requires a word (``+coffee brazil``: coffee required, brazil only ranks);
  ``+`` before a digit is part of a number (``+5``).
- **``-word``, ``NOT word``**, ``-"a phrase"``, ``NOT (a OR b)`` exclude, judged on the
  whole article. Exclusions only narrow a positive match: a query with nothing positive
  matches nothing. ``a OR NOT b`` is ``a NOT b``.
- **``"an exact phrase"``** is required (a user who quotes means it); a quoted single
  word is a required word; ``"a b" OR "c d"`` needs either. An unbalanced quote is
  ignored and the rest is read as bare words.
- **``title:iran``**, ``title:"nuclear talks"``, ``title:(iran OR iraq)``, ``title:export*``
  match in the title only, and are required like phrases.
- **``export*``** matches words starting with ``export`` (after stemming: ``exporters*``
  is ``export*``); optional like a bare word. A stem shorter than MIN_PREFIX (3) letters
  is a plain word (``ex*`` is ``ex``).
- Required items and optional words mix as in Lucene: in ``iran nuclear AND talks``,
  ``nuclear AND talks`` is required and ``iran`` ranks. Optional words only filter when
  nothing else is positive (``iran -weather`` needs ``iran``).
- **filters**: ``source:reuters``, ``source:"New York Times"``, ``author:...``,
  ``after:YYYY-MM-DD`` (inclusive), ``before:YYYY-MM-DD`` (exclusive) (field names are
  case-insensitive; the last occurrence wins; an empty value is ignored). A malformed
  date, or ``after`` later than ``before``, raises ``BadQuery(param="q")`` naming the
  filter; so does a negated filter (``-source:x``, ``NOT source:x``). The date rule lives
  in ``limits.check_date_range``.
- anything else with a colon (``foo:bar``, ``12:30``) is plain words (``foo bar``).

Forgiving: apart from those filter errors nothing is ever rejected. A dangling operator
(``coffee AND``, ``AND coffee``, ``NOT``), an unbalanced or empty parenthesis, ``title:``
with nothing after it, a lone ``*``, ``-`` or ``+`` are repaired or ignored (see
`parser`). ``(`` is syntax only at the start of a word and ``)`` only at its end, so
``apo(a)`` and ``(SIDS)`` in a question stay words. A keyword index's compiler (e.g.
``store.keyword.fts5.to_fts5``) never produces a syntax error: every token is reduced to
its alphanumeric parts and quoted.
"""

from __future__ import annotations

from archive.query.compile import Dialect, compile_expression, compile_query
from archive.query.lexer import FILTER_FIELDS, SEARCH_FIELDS
from archive.query.model import Query, parse_date
from archive.query.nodes import And, Field, Node, Not, Or, Phrase, Prefix, Term
from archive.query.parser import parse_query
from archive.query.words import (
    MAX_EMBED_WORDS,
    MAX_PHRASE_WORDS,
    MAX_TERM_CHARS,
    MAX_TERMS,
    MIN_PREFIX,
    phrase_parts,
    word_parts,
)

__all__ = [
    "FILTER_FIELDS",
    "MAX_EMBED_WORDS",
    "MAX_PHRASE_WORDS",
    "MAX_TERMS",
    "MAX_TERM_CHARS",
    "MIN_PREFIX",
    "SEARCH_FIELDS",
    "And",
    "Dialect",
    "Field",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "Prefix",
    "Query",
    "Term",
    "compile_expression",
    "compile_query",
    "parse_date",
    "parse_query",
    "phrase_parts",
    "word_parts",
]
