"""The parsed query: optional words, the Boolean constraint, filters and the text to embed; pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from archive.errors import BadQuery
from archive.query.nodes import Node, Not, Phrase, Term, all_of, leaf_words, leaves, split


@dataclass(frozen=True)
class Query:
    """A parsed search query.

    - `terms`: optional words (and `prefixes`: optional ``word*`` stems). They rank; when
      nothing positive is required, a keyword match needs at least one of them.
    - `boolean`: what every result must satisfy, in every mode (required words, phrases,
      fields and groups, and exclusions), as a tree of `archive.query.nodes`; None when
      nothing is required or excluded (a query of plain words).
    - `phrases`, `excluded`, `excluded_phrases`: views of `boolean` kept for callers of the
      flat language (its required phrases, its excluded words and phrases). A Query built
      from them alone gets the matching `boolean`.
    """

    terms: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[str, ...] = ()
    excluded_phrases: tuple[tuple[str, ...], ...] = ()
    source: str | None = None
    author: str | None = None
    after: date | None = None
    before: date | None = None
    text_for_embedding: str = field(default="", compare=False)
    prefixes: tuple[str, ...] = ()
    boolean: Node | None = None
    labels: tuple[tuple[str, str], ...] = ()  # (extra field, lower-cased value): the article has this label

    def __post_init__(self) -> None:
        if self.boolean is None and (self.phrases or self.excluded or self.excluded_phrases):
            flat: list[Node] = [Phrase(p) for p in self.phrases]
            flat += [Not(Term(w)) for w in self.excluded] + [Not(Phrase(p)) for p in self.excluded_phrases]
            object.__setattr__(self, "boolean", all_of(flat))
        if not self.text_for_embedding:
            object.__setattr__(self, "text_for_embedding", " ".join(self.positive_words))

    @property
    def positive_words(self) -> list[str]:
        """Every word the query looks for (optional words, prefix stems, required words and phrases)."""
        return [*self.terms, *self.prefixes, *(w for leaf in leaves(self.boolean) for w in leaf_words(leaf))]

    @property
    def required(self) -> list[Node]:
        """The positive conjuncts of `boolean`: what every result must contain."""
        return split(self.boolean)[0]

    @property
    def is_empty(self) -> bool:
        """True when there is nothing positive (no words, prefixes, required clauses) to match."""
        return not self.terms and not self.prefixes and not self.required

    @property
    def has_filters(self) -> bool:
        """True when any field filter (source, author, after, before, a label) is set."""
        return bool(self.labels) or any(v is not None for v in (self.source, self.author, self.after, self.before))


def parse_date(value: str, name: str, *, param: str | None = None) -> date:
    """Parse a strict YYYY-MM-DD date or raise BadQuery naming the filter `name`."""
    value = value.strip()
    try:
        if len(value) != 10 or value[4] != "-" or value[7] != "-" or not value.replace("-", "").isdigit():
            raise ValueError(value)
        return date(int(value[:4]), int(value[5:7]), int(value[8:]))
    except ValueError:
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise BadQuery(f"{name}: expects a date as YYYY-MM-DD, got {shown!r}", param=param or name) from None
