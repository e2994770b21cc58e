"""Citations read back by the parsers reference managers' importers are built like: rispy, bibtexparser."""

from __future__ import annotations

import json
from datetime import date

import bibtexparser
import pytest
import rispy
from bibtexparser.middlewares import LatexDecodingMiddleware
from conftest import SEED_UID

from archive.cite import Reference, bibtex, bibtex_key, cite, csl_json, ris, split_authors

REF = Reference(
    uid="reuters-2",
    title='STANDARD OIL <SRD> & BP: 50% "venture" {money}_market Müller',
    outlet="Reuters",
    author="Ana Ruiz, Ben Ode",
    published=date(1987, 2, 26),
    url="https://example.org/story_1?a=1&b=%20x",
    permalink="http://archive.example/articles/2#passage-1",
    accessed=date(2026, 5, 4),
    language="en",
)


def parse_bibtex(text: str, decode: bool = True):
    library = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware()] if decode else [])
    assert library.failed_blocks == []
    (entry,) = library.entries
    return entry


@pytest.mark.parametrize(
    "author,names",
    [
        ("Ana Ruiz", [("Ruiz", "Ana")]),
        ("Ana Ruiz, Ben Ode", [("Ruiz", "Ana"), ("Ode", "Ben")]),
        ("Ruiz, Ana", [("Ruiz", "Ana")]),
        ("By John Smith and Jane Doe", [("Smith", "John"), ("Doe", "Jane")]),
        ("Reuters", [("Reuters", "")]),
        (None, []),
    ],
)
def test_authors_are_split_into_family_and_given_names(author, names):
    assert split_authors(author) == names


def test_ris_round_trips_through_rispy():
    text = ris(REF)
    assert text.startswith("TY  - NEWS\n") and text.rstrip().endswith("ER  -")
    (entry,) = rispy.loads(text)
    assert entry["type_of_reference"] == "NEWS"
    assert entry["title"] == REF.title
    assert entry["secondary_title"] == "Reuters"  # T2: the outlet
    assert entry["authors"] == ["Ruiz, Ana", "Ode, Ben"]
    assert entry["year"] == "1987" and entry["date"] == "1987/02/26"
    assert entry["urls"] == [REF.url, REF.permalink]
    assert entry["access_date"] == "2026/05/04"
    assert entry["id"] == "reuters-2" and entry["language"] == "en"
    assert any(REF.permalink in note for note in entry["notes"])


def test_bibtex_round_trips_through_bibtexparser():
    entry = parse_bibtex(bibtex(REF))
    assert entry.entry_type == "article" and entry.key == bibtex_key(REF) == "ruiz1987standard"
    fields = {k: f.value for k, f in entry.fields_dict.items()}
    assert "STANDARD OIL <SRD> & BP: 50%" in fields["title"] and "Müller" in fields["title"]
    assert fields["author"] == "Ruiz, Ana and Ode, Ben"
    assert fields["journal"] == "Reuters"
    assert (fields["year"], fields["month"], fields["date"]) == ("1987", "2", "1987-02-26")
    assert fields["urldate"] == "2026-05-04"
    assert REF.permalink in fields["note"]
    raw = {k: f.value for k, f in parse_bibtex(bibtex(REF), decode=False).fields_dict.items()}
    assert raw["url"] == REF.url  # verbatim: a URL is never LaTeX-escaped
    assert raw["title"].startswith("{") and "\\&" in raw["title"]  # braces keep capitals; & escaped


def test_bibtex_without_an_outlet_or_date_is_misc():
    bare = Reference("x", "Untitled words", None, None, None, None, "http://a/articles/1", date(2026, 1, 1))
    entry = parse_bibtex(bibtex(bare))
    assert entry.entry_type == "misc" and entry.key == "archivenduntitled"
    assert entry.fields_dict["url"].value == "http://a/articles/1"  # the permalink stands in for a missing URL


def test_csl_json_is_an_array_of_one_newspaper_article():
    (item,) = json.loads(csl_json(REF))
    assert item["type"] == "article-newspaper" and item["id"] == "reuters-2"
    assert item["title"] == REF.title and item["container-title"] == "Reuters"
    assert item["author"] == [{"family": "Ruiz", "given": "Ana"}, {"family": "Ode", "given": "Ben"}]
    assert item["issued"] == {"date-parts": [[1987, 2, 26]]} and item["accessed"] == {"date-parts": [[2026, 5, 4]]}
    assert item["URL"] == REF.url and item["archive_location"] == REF.permalink
    assert cite(REF, "csl-json") == csl_json(REF)


@pytest.mark.integration
def test_the_seed_citation_from_the_api_parses(client):
    seed = client.get(f"/api/articles/{SEED_UID}").get_json()["article"]
    (entry,) = rispy.loads(client.get(f"/api/articles/{SEED_UID}/cite?format=ris").get_data(as_text=True))
    assert entry["title"] == seed["title"] and entry["date"] == "2022/06/09"
    assert f"/articles/{seed['id']}" in entry["urls"][0]  # no original URL: the archive permalink
    bib = parse_bibtex(client.get(f"/api/articles/{SEED_UID}/cite?format=bibtex&p=1").get_data(as_text=True))
    assert bib.fields_dict["title"].value.strip("{}") == seed["title"]
    assert bib.fields_dict["note"].value.endswith("(News Archive)")
    assert f"/articles/{seed['id']}#passage-1" in bib.fields_dict["note"].value
