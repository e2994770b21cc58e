"""Citations of an archived article in the formats reference managers import: RIS, BibTeX, CSL-JSON; pure.

Each carries the title, the outlet, the authors, the publication date, the original URL,
the archive permalink (to the cited passage when one is given) and the access date.
RIS is written by `rispy`, BibTeX by `bibtexparser` (2.x; text fields LaTeX-encoded by
`pylatexenc`, URLs verbatim), CSL-JSON is plain JSON (the input format of citeproc,
Zotero, Mendeley and pandoc). tests/test_cite.py reads each back with a parser.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

ARCHIVE_NAME = "News Archive"
# format -> (media type, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "ris": ("application/x-research-info-systems", "ris"),
    "bibtex": ("application/x-bibtex", "bib"),
    "csl-json": ("application/vnd.citationstyles.csl+json", "json"),
}
_SEPARATORS = re.compile(r"\s*(?:;|\band\b|&)\s*|\s*,\s*(?=\S+\s+\S)")


@dataclass(frozen=True)
class Reference:
    """What a citation says about one article."""

    uid: str
    title: str
    outlet: str | None
    author: str | None  # as stored: one name, or several joined by ", " / "; " / " and "
    published: date | None
    url: str | None  # the original article
    permalink: str  # the archive's page (with #passage-N for a passage)
    accessed: date
    language: str | None = None
    names: list[tuple[str, str]] = field(init=False)  # (family, given) of each author

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", split_authors(self.author))


def split_authors(author: str | None) -> list[tuple[str, str]]:
    """Authors as (family, given): "Ana Ruiz, Ben Ode" -> [("Ruiz", "Ana"), ("Ode", "Ben")]; "Ruiz, Ana" stays one.

    A comma separates two authors only when a full name (two words or more) follows it;
    a one-word organisation byline ("Reuters") is a family name with no given name.
    """
    if not author or not author.strip():
        return []
    text = re.sub(r"^\s*by\s+", "", author.strip(), flags=re.IGNORECASE)
    parts = [p.strip() for p in _SEPARATORS.split(text) if p and p.strip()]
    names = []
    for part in parts:
        if "," in part:
            family, _, given = part.partition(",")
            names.append((family.strip(), given.strip()))
        else:
            *given, family = part.split()
            names.append((family, " ".join(given)))
    return names


def _person(family: str, given: str) -> str:
    return f"{family}, {given}" if given else family


def _ris_writer() -> type:
    from rispy.writer import RisWriter

    class PlainRisWriter(RisWriter):
        """rispy's writer without its numbered header line ("1."): a record starts with TY, as RIS has it."""

        def set_header(self, count: int) -> str:
            return ""

    return PlainRisWriter


def ris(ref: Reference) -> str:
    """One RIS record (type NEWS), written by rispy."""
    import rispy

    entry: dict[str, object] = {
        "type_of_reference": "NEWS",
        "title": ref.title,
        "authors": [_person(f, g) for f, g in ref.names],
        "urls": [u for u in (ref.url, ref.permalink) if u],
        "access_date": ref.accessed.strftime("%Y/%m/%d"),
        "name_of_database": ARCHIVE_NAME,
        "notes": [f"Archived at {ref.permalink} (accessed {ref.accessed.isoformat()})"],
        "id": ref.uid,
    }
    if ref.outlet:
        entry["secondary_title"] = ref.outlet  # T2: the newspaper or wire
    if ref.published:
        entry["year"] = str(ref.published.year)
        entry["date"] = ref.published.strftime("%Y/%m/%d")
    if ref.language:
        entry["language"] = ref.language
    return rispy.dumps([{k: v for k, v in entry.items() if v}], implementation=_ris_writer())


def _latex(text: str) -> str:
    from pylatexenc.latexencode import UnicodeToLatexEncoder

    return UnicodeToLatexEncoder(unknown_char_policy="keep", replacement_latex_protection="braces").unicode_to_latex(
        text
    )


def _verbatim(url: str) -> str:
    """A URL for a verbatim BibTeX field: braces (which would end the field) percent-encoded."""
    return url.replace("{", "%7B").replace("}", "%7D").replace("\\", "%5C")


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]", "", folded)


def bibtex_key(ref: Reference) -> str:
    """ruiz2022iaea: first author's family name (else the outlet, else 'archive'), year, first long title word."""
    who = _ascii_word(ref.names[0][0]) if ref.names else _ascii_word((ref.outlet or "").split(" ")[0])
    words = [w for w in (_ascii_word(w) for w in ref.title.split()) if len(w) > 3] or ["untitled"]
    return f"{who or 'archive'}{ref.published.year if ref.published else 'nd'}{words[0]}"


def bibtex(ref: Reference) -> str:
    """One BibTeX entry (@article with the outlet as journal; @misc without an outlet), written by bibtexparser."""
    import bibtexparser
    from bibtexparser import model

    fields = [model.Field("title", "{" + _latex(ref.title) + "}")]  # inner braces keep the title's capitals
    if ref.names:
        fields.append(model.Field("author", " and ".join(_latex(_person(f, g)) for f, g in ref.names)))
    if ref.outlet:
        fields.append(model.Field("journal", _latex(ref.outlet)))
    if ref.published:
        fields += [
            model.Field("year", str(ref.published.year)),
            model.Field("month", str(ref.published.month)),
            model.Field("date", ref.published.isoformat()),  # biblatex
        ]
    fields += [
        model.Field("url", _verbatim(ref.url or ref.permalink)),
        model.Field("urldate", ref.accessed.isoformat()),
        model.Field("note", f"Archived at \\url{{{_verbatim(ref.permalink)}}} ({_latex(ARCHIVE_NAME)})"),
    ]
    if ref.language:
        fields.append(model.Field("language", _latex(ref.language)))
    library = bibtexparser.Library([model.Entry("article" if ref.outlet else "misc", bibtex_key(ref), fields)])
    return bibtexparser.write_string(library)


def _date_parts(value: date) -> dict[str, list[list[int]]]:
    return {"date-parts": [[value.year, value.month, value.day]]}


def csl_json(ref: Reference) -> str:
    """A CSL-JSON array holding one item of type article-newspaper."""
    item: dict[str, object] = {
        "id": ref.uid,
        "type": "article-newspaper",
        "title": ref.title,
        "author": [{"family": f, "given": g} if g else {"literal": f} for f, g in ref.names],
        "URL": ref.url or ref.permalink,
        "accessed": _date_parts(ref.accessed),
        "archive": ARCHIVE_NAME,
        "archive_location": ref.permalink,
    }
    if ref.outlet:
        item["container-title"] = ref.outlet
    if ref.published:
        item["issued"] = _date_parts(ref.published)
    if ref.language:
        item["language"] = ref.language
    return json.dumps([{k: v for k, v in item.items() if v}], ensure_ascii=False, indent=2) + "\n"


WRITERS = {"ris": ris, "bibtex": bibtex, "csl-json": csl_json}


def cite(ref: Reference, fmt: str) -> str:
    """The citation in `fmt` (one of FORMATS)."""
    return WRITERS[fmt](ref)
