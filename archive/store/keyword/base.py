"""The contract of a keyword index: what the read path asks, in plain values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection

from archive.query import Node, Query


class KeywordIndex(Protocol):
    """BM25-style ranking of articles (title + body) with the query language's rules (`archive.query`).

    Every method takes the query with its field filters; filters are applied in the same
    statement (before ranking). Scores are higher-is-better. A query with nothing positive
    to match ranks nothing (empty results, no error); no input may cause a syntax error.
    """

    def create(self, conn: Connection) -> None:
        """Create the index (and whatever keeps it in step with `articles`), backfilling it if behind."""

    def compact(self, conn: Connection) -> int:
        """Merge what writes left in pieces (after a bulk load); returns the pieces merged (0: nothing to do)."""

    def rank(self, conn: Connection, query: Query, limit: int, title_weight: float) -> list[tuple[int, float]]:
        """The best `limit` (article id, score), best first; ties by article id."""

    def word_counts(self, conn: Connection, words: Sequence[str], least: int) -> dict[str, int]:
        """How many articles hold each word (letters only), as a query of it matches them, counted up to `least` at
        least (a backend may count further): one statement for all the words."""

    def term_counts(self, conn: Connection, terms: Sequence[str]) -> dict[str, int]:
        """How many articles hold each of these index terms (stems, as the index stores them); 0 when none."""

    def vocabulary(self, conn: Connection, min_docs: int) -> dict[str, int]:
        """Every index term (stem) held by at least `min_docs` articles, with its article count."""

    def stems(self, conn: Connection, words: Sequence[str]) -> dict[str, str]:
        """The index term each word is stored as (the index's own stemmer and folding)."""

    def page(
        self, conn: Connection, query: Query, *, sort: str, limit: int, offset: int, title_weight: float
    ) -> list[tuple[int, float, int]]:
        """One page over *all* matches as (article id, score, relevance rank), in `sort` order
        ('relevance', 'newest' or 'oldest'; undated articles last)."""

    def story_copies(
        self, conn: Connection, query: Query, *, sort: str = "relevance", title_weight: float = 1.0
    ) -> list[int]:
        """The matches that are a later version of their story in `sort` order (the order `page` lists;
        relevance scored with `title_weight`): what folding every match of the ranked list takes away
        (`filters.story_copies`; only the matches that have near copies are scored and ordered)."""

    def facet_counts(
        self,
        conn: Connection,
        query: Query,
        *,
        stories: bool = False,
        sort: str = "relevance",
        title_weight: float = 1.0,
        fields: Sequence[str] | None = None,
        copies: Sequence[int] | None = None,
    ) -> tuple[dict[tuple[str | None, date | None], int], dict[str, dict[str, int]]]:
        """The facets of keyword mode over all matches: matches counted per (source, UTC publication day) (the
        facets and the date histogram; `filters.publication_day`, None for undated articles), or, given
        `fields`, per label value of each of them (`article_labels`; the other item is then empty). With
        `stories`, near copies count once: each story under the source, day and labels of its first version
        in `sort` order, the match set without `story_copies` (`copies`: already read for this query)."""

    def matched_ids(self, conn: Connection, query: Query) -> list[int]:
        """The ids of the matches `facet_counts` counts (filters applied; a very large match set's newest
        matches, `counted_in_window`), in no particular order: what the in-memory doc values count."""

    def grouped_scores(self, conn: Connection, query: Query, title_weight: float) -> dict[int, float]:
        """The score `page` ranks each match that has near copies by ({article id: score}; a match no word scores
        is left out): what orders the versions of a story, as `story_copies` orders them in SQL."""

    def satisfying(self, expression: Node | None, within: tuple[Any, Any] | None = None) -> ColumnElement[bool] | None:
        """A condition on `articles.id`: the article (title + body) satisfies this Boolean tree
        (`archive.query.nodes`: And/Or/Not of words, phrases, prefixes and field searches; a tree
        that only excludes keeps the articles matching none of it). None for None. `within` (low, high),
        values or bind parameters: only article ids in that range are asked about (an index may use it)."""

    def containing(self, conn: Connection, expression: Node, article_ids: Sequence[int]) -> set[int]:
        """Which of `article_ids` satisfy `expression` (a positive tree: a word, a phrase, ...), read from
        the index for just those articles (what "why it matched" and the minimum-should-match rule ask)."""

    def words_in(self, conn: Connection, words: dict[str, Node], article_ids: Sequence[int]) -> dict[int, set[str]]:
        """Which of `words` (label -> positive tree) each of `article_ids` satisfies ({article id: labels}; ids
        matching none are left out): "why it matched" and the minimum-should-match rule, in one round trip."""

    def counted_in_window(self, conn: Connection, query: Query) -> bool:
        """True when `facet_counts` covers only the newest matches of a very large match
        set (a bound on the work; the total is then a lower bound), False when they cover every match."""

    def satisfying_ids(self, expression: Node | None) -> tuple[Any, bool] | None:
        """What `satisfying(expression)` decides, as a statement of one column of article ids and whether
        they are the articles satisfying it (True) or, for a tree that only excludes, those failing it
        (False: most articles pass); None when the tree restricts nothing."""

    def restriction(self, query: Query) -> ColumnElement[bool] | None:
        """`satisfying(query.boolean)`: every required word, phrase, field search and group, no excluded
        one (None when the query has none: optional words restrict nothing). The semantic side applies it
        to judge whole articles."""
