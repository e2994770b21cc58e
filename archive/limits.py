"""Every request rule declared once: modes, sorts, fusions, page sizes and caps.

The CLI, the API (and its OpenAPI document), the search layer and the templates all read
these names; none of them repeats a number or a list. Tunable ranking defaults are not here
but in `config.Settings`; these are the shape of a request, not knobs.
"""

from __future__ import annotations

from datetime import date

from archive.errors import BadQuery

MODES: tuple[str, ...] = ("hybrid", "keyword", "semantic")  # display order; hybrid is the default
DEFAULT_MODE = "hybrid"
MODE_HELP = {"hybrid": "words and meaning", "keyword": "exact words", "semantic": "meaning"}
SORTS: tuple[str, ...] = ("relevance", "newest", "oldest")
DEFAULT_SORT = "relevance"
SORT_LABELS = {"relevance": "Relevance", "newest": "Newest first", "oldest": "Oldest first"}
FUSIONS: tuple[str, ...] = ("zscore", "minmax", "rrf")

DEFAULT_COLLAPSE = True  # one result per story; collapse=false lists every version as a result of its own
COLLAPSE_HELP = "One result per story: near copies are folded into the best-ranked one's `versions`."

DEFAULT_LIMIT = 10
MAX_LIMIT = 100  # results per page
CLAMP_CEILING = 1000  # a limit in (MAX_LIMIT, CLAMP_CEILING] is clamped to MAX_LIMIT; above it is an error
MAX_OFFSET = 100_000
COLLAPSE_WINDOW = MAX_OFFSET + MAX_LIMIT  # ranked candidates one collapsed search may fold (the deepest page)
MAX_QUERY_CHARS = 10_000
RELATED_DEFAULT = 10
RELATED_MAX = 50
THREAD_MAX = 500  # articles one story thread lists (the API and /threads/<id>); a larger thread says how many more
THREAD_ON_PAGE = 12  # of them beside an article: the ones nearest it in time
MAX_POST_ARTICLES = 1000  # per API request; larger batches belong to `archive ingest`
MAX_LABEL_CHARS = 64  # a label (a topic, a place) is a short string; longer values of `extra` are not labels
MAX_LABELS_PER_FIELD = 50
MAX_FACET_VALUES = 15  # values listed per label facet (the most frequent)
MAX_KEY_CHARS = 512  # an article key (uid or id) longer than the uid column cannot exist
SAVED_NAME_CHARS = 200  # a saved search's or a batch's name
FEED_ENTRIES = 50  # newest alerts in a saved search's Atom and JSON feeds
ALERTS_ON_PAGE = 100  # alerts listed on a saved search's page and in its API answer
BATCH_TOP_HITS = 5  # top hits kept per query of a batch search
BATCH_DEFAULT_MODE = "keyword"  # a batch counts matches: keyword mode's total is every matching article


def check_date_range(after: date | None, before: date | None, param: str = "after") -> None:
    """`after` is inclusive and `before` exclusive, so after >= before selects nothing: a 400 naming `param`."""
    if after is not None and before is not None and after >= before:
        raise BadQuery(
            f"after ({after.isoformat()}) must be earlier than before ({before.isoformat()}); "
            "after is inclusive, before exclusive",
            param=param,
        )


# A keyword match set larger than this is counted (totals, facets) among its newest this many (total 'gte') ...
KEYWORD_WINDOW = 50_000
# ... and ranked by BM25 among its newest this many (BM25 costs per match: ~3 us each). An archive of at most this
# many articles is never cut (Reuters, 18,700 stories, counts and ranks every match of `said` exactly).
RANK_WINDOW = 50_000
# The hybrid keyword side's candidates (the best 300 by BM25) of a larger match set come from its newest this many, in an
# archive of more than `fts5.NARROW_ARCHIVE` articles (smaller archives: RANK_WINDOW, so Reuters and SciFact are not
# cut): BM25 over 50,000 matches was ~100 ms of a 125 ms hybrid search for a common word at 1,000,000 articles.
CANDIDATE_WINDOW = 10_000
FILTER_DRIVES = 2_000  # filters selecting at most this many articles drive a keyword query (looked up per article)


def one_of(name: str, raw: str | None, options: tuple[str, ...], default: str) -> str:
    """A choice (a mode, a sort, a format): None is the default; case and surrounding space do not count; an empty
    or unknown value is a BadQuery naming `name` (the API, the forms' JSON twins and the CLI read choices so)."""
    if raw is None:
        return default
    value = raw.strip().lower()
    if not value:
        raise BadQuery(
            f"{name} is empty: leave it out for the default ({default}) or give one of {', '.join(options)}", param=name
        )
    if value not in options:
        raise BadQuery(f"{name} must be one of {', '.join(options)}, got {value[:40]!r}", param=name)
    return value
