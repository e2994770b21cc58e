"""Readers: every format to Article, the field mapping, cleaning, dates, and bad input as ReadFailure."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from archive.dates import parse_date
from archive.documents import Article, ReadFailure
from archive.readers import article_from_record, clean_text, estimate_records, read_paths, title_from_body

FIXTURES = Path(__file__).parent / "fixtures" / "readers"
REUTERS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "reuters21578" / "corpus.jsonl"
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def read(*paths: str | Path, source: str | None = None) -> list[Article | ReadFailure]:
    return list(read_paths(paths, source=source))


def articles(results: list[Article | ReadFailure]) -> list[Article]:
    return [item for item in results if isinstance(item, Article)]


def failures(results: list[Article | ReadFailure]) -> list[ReadFailure]:
    return [item for item in results if isinstance(item, ReadFailure)]


def write_jsonl(path: Path, *lines: object) -> Path:
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


# --------------------------------------------------------------------------- JSON Lines


def test_jsonl_maps_fields_case_insensitively_and_keeps_the_rest_in_extra(tmp_path: Path) -> None:
    record = {
        "_id": 42,
        "Headline": "Markets  rally\n on rate hopes",
        "Body": "Stocks rose on Friday.",
        "published_at": "2022-06-09T10:00:00+02:00",
        "Publisher": "Example Wire",
        "authors": ["Ann Lee", "Bo Kim"],
        "link": "https://example.com/markets",
        "lang": "en",
        "section": "Business",
        "tags": ["stocks", "rates"],
        "views": None,
    }
    path = write_jsonl(tmp_path / "feed.jsonl", record)

    [article] = read(path)

    assert article == Article(
        title="Markets rally on rate hopes",
        body="Stocks rose on Friday.",
        uid="42",
        source="Example Wire",
        author="Ann Lee, Bo Kim",
        url="https://example.com/markets",
        published_at=datetime(2022, 6, 9, 8, 0, tzinfo=UTC),
        language="en",
        extra={"section": "Business", "tags": ["stocks", "rates"]},
        origin=f"{path}:1",
    )


def test_second_alias_for_a_field_is_kept_in_extra(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", {"headline": "Second", "title": "First", "text": "Body."})

    [article] = read(path)

    assert article.title == "First"
    assert article.extra == {"headline": "Second"}


def test_reuters_style_record_is_unescaped_and_cleaned(tmp_path: Path) -> None:
    record = {
        "_id": "reuters-2",
        "date": "26-FEB-1987 15:02:20.00",
        "title": "STANDARD OIL &lt;SRD> TO FORM FINANCIAL UNIT",
        "text": "Standard Oil Co &lt;SRD> said\r\nit will form a unit.  \r\n\r\n\r\n\r\n    Shares\trose.\x07\n Reuter\n&#3;",
        "topics": [],
        "places": ["usa"],
        "source": "Reuters",
    }
    path = write_jsonl(tmp_path / "reuters.jsonl", record)

    [article] = read(path)

    assert article.title == "STANDARD OIL <SRD> TO FORM FINANCIAL UNIT"
    assert article.body == "Standard Oil Co <SRD> said\nit will form a unit.\n\n    Shares\trose.\n Reuter"
    assert article.published_at == datetime(1987, 2, 26, 15, 2, 20, tzinfo=UTC)
    assert article.extra == {"places": ["usa"]}  # the empty topics list carries nothing


def test_cli_source_fills_in_only_when_the_record_has_none(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "mixed.jsonl", {"text": "Has its own outlet.", "outlet": "Own Outlet"}, {"text": "Names no outlet."}
    )

    own, missing = read(path, source="CLI Source")

    assert own.source == "Own Outlet"
    assert missing.source == "CLI Source"


def test_bad_jsonl_lines_fail_alone_and_good_lines_still_ingest(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        {"title": "Good one", "text": "First good article."},
        '{"title": "Truncated", "text": "never clos',
        "[1, 2, 3]",
        "",
        {"title": "Blank body", "text": "  \n\t "},
        '"just a string"',
        {"title": "Good two", "text": "Second good article."},
    )

    results = read(path)

    assert [a.title for a in articles(results)] == ["Good one", "Good two"]
    assert [a.origin for a in articles(results)] == [f"{path}:1", f"{path}:7"]
    assert [(f.origin, f.reason.split(":")[0].split(" (")[0]) for f in failures(results)] == [
        (f"{path}:2", "invalid JSON"),
        (f"{path}:3", "line holds a list, expected a JSON object"),
        (f"{path}:5", "no text"),
        (f"{path}:6", "line holds a string, expected a JSON object"),
    ]


def test_jsonl_is_read_lazily_line_by_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "growing.jsonl", {"title": "One", "text": "First."})
    stream = read_paths([path])

    first = next(stream)
    # Only possible if the file is read as we go: line 2 did not exist when line 1 was yielded.
    with path.open("a") as handle:
        handle.write(json.dumps({"title": "Two", "text": "Second."}) + "\n")
    second = next(stream)

    assert (first.title, second.title) == ("One", "Two")
    assert next(stream, None) is None


# --------------------------------------------------------------------------- JSON


def test_json_object_with_articles_list(tmp_path: Path) -> None:
    path = FIXTURES / "articles.json"

    rail, ferry = read(path)

    assert (rail.uid, rail.title, rail.source, rail.origin) == (
        "a-1",
        "Rail fares to rise",
        "Transit Daily",
        f"{path}:0",
    )
    assert rail.published_at == datetime(2022, 6, 9, 10, 0, tzinfo=UTC)  # epoch seconds
    assert ferry.body == "The island ferry resumed service.\n\nPassengers welcomed the news."
    assert ferry.published_at == datetime(2022, 6, 9, 10, 0, tzinfo=UTC)
    assert ferry.origin == f"{path}:1"


def test_json_single_object_and_plain_list(tmp_path: Path) -> None:
    single = tmp_path / "single.json"
    single.write_text(json.dumps({"id": "s1", "title": "Alone", "text": "Only one."}))
    many = tmp_path / "many.json"
    many.write_text(json.dumps([{"text": "Item zero."}, 7, {"text": "Item two."}]))

    results = read(single, many)

    assert [(type(r).__name__, r.origin) for r in results] == [
        ("Article", str(single)),
        ("Article", f"{many}:0"),
        ("ReadFailure", f"{many}:1"),
        ("Article", f"{many}:2"),
    ]
    assert results[2].reason == "record is a number, expected an object"


def test_corrupt_json_file_is_one_failure_and_the_next_file_still_reads(tmp_path: Path) -> None:
    corrupt = tmp_path / "a_corrupt.json"
    corrupt.write_text('[{"title": "Cut off", "text": "The file ends mid')
    good = tmp_path / "b_good.json"
    good.write_text(json.dumps({"title": "Fine", "text": "Readable."}))

    results = read(tmp_path)

    assert [f.origin for f in failures(results)] == [str(corrupt)]
    assert failures(results)[0].reason.startswith("invalid JSON: ")
    assert [a.title for a in articles(results)] == ["Fine"]


def test_json_lines_saved_as_json_are_read_line_by_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "misnamed.json", {"text": "One."}, {"text": "Two."})

    assert [(a.body, a.origin) for a in read(path)] == [("One.", f"{path}:1"), ("Two.", f"{path}:2")]


def test_json_scalar_top_level_is_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "scalar.json"
    path.write_text("42")

    assert read(path) == [ReadFailure(str(path), "JSON holds a number; expected an object or a list of objects")]


# --------------------------------------------------------------------------- CSV


def test_csv_rows_become_articles_with_line_origins() -> None:
    path = FIXTURES / "articles.csv"

    port, wheat = read(path, source="Fallback Source")

    assert (port.uid, port.title, port.source, port.extra) == (
        "1",
        "Port strike ends",
        "Harbour News",
        {"section": "Business"},
    )
    assert port.body == "Dock workers returned to work on Monday.\n\nShipping lines expect delays to ease."
    assert port.published_at == datetime(2022, 6, 9, tzinfo=UTC)
    assert port.origin == f"{path}:2"
    # The quoted body of row 1 spans three lines, so row 2 starts on line 5.
    assert wheat.origin == f"{path}:5"
    assert wheat.title == "Wheat prices rose sharply on Tuesday."  # no headline: first sentence
    assert wheat.source == "Fallback Source"
    assert wheat.published_at == datetime(2022, 6, 9, tzinfo=UTC)


def test_csv_semicolon_delimiter_and_ragged_row(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("Title;Text;Lang\nA;Body a.;en\nB;Body b.;en;surplus\nC;Body c.\n")

    results = read(path)

    assert [(a.title, a.language) for a in articles(results)] == [("A", "en"), ("C", None)]
    assert failures(results) == [ReadFailure(f"{path}:3", "row has 4 fields but the header has 3")]


def test_csv_without_text_column_is_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "no_text.csv"
    path.write_text("title,date\nSomething,2022-01-01\n")

    [failure] = read(path)

    assert failure.origin == str(path)
    assert failure.reason.startswith("no text column (expected one of: text, body, content, article")


def test_csv_with_only_a_header_is_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "header_only.csv"
    path.write_text("title,text\n\n")

    assert read(path) == [ReadFailure(str(path), "no records (only a header row)")]


# --------------------------------------------------------------------------- text and markdown


def test_txt_short_first_line_is_the_title(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_bytes(b"Flood warnings issued\r\n\r\nHeavy rain is expected overnight.\r\nResidents should prepare.\r\n")

    [article] = read(path)

    assert article.title == "Flood warnings issued"
    assert article.body == "Heavy rain is expected overnight.\nResidents should prepare."
    assert (article.uid, article.origin) == (None, str(path))


def test_txt_long_first_line_gives_a_truncated_first_sentence_title(tmp_path: Path) -> None:
    lede = (
        "Top Iranian officials Thursday showed defiance in the face of the IAEA resolution criticizing "
        "Tehran for lack of cooperation with the UN nuclear watchdog."
    )
    path = tmp_path / "seed.txt"
    path.write_text(f"{lede} More follows here.\nOne day after the vote, Iran responded.\n")

    [article] = read(path)

    assert article.title == (
        "Top Iranian officials Thursday showed defiance in the face of the IAEA resolution criticizing "
        "Tehran for lack of\u2026"
    )
    assert len(article.title) <= 121
    assert article.body.startswith(lede)  # nothing was taken out of the body


def test_txt_hard_wrapped_paragraph_is_not_mistaken_for_a_title(tmp_path: Path) -> None:
    path = tmp_path / "wrapped.txt"
    path.write_text("Showers continued throughout the week in\nthe Bahia cocoa zone. Prices fell.\n")

    [article] = read(path)

    assert article.title == "Showers continued throughout the week in the Bahia cocoa zone."
    assert article.body.startswith("Showers continued")


def test_markdown_heading_becomes_the_title(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text("# Budget passes *narrowly*\n\nThe budget passed by two votes.\n")

    [article] = read(path)

    assert article.title == "Budget passes *narrowly*"
    assert article.body == "The budget passed by two votes."


def test_front_matter_is_mapped_like_a_record() -> None:
    path = FIXTURES / "front_matter.md"

    [article] = read(path, source="CLI")

    assert article.title == "Cocoa rains lift Bahia crop hopes"
    assert article.author == "Ana Souza, Jo Pinto"
    assert article.source == "Wire Desk"
    assert article.url == "https://wire.example.org/cocoa-bahia"
    assert article.language == "en"
    assert article.published_at == datetime(1987, 2, 26, 15, 1, 1, tzinfo=UTC)
    assert article.extra == {"tags": ["cocoa", "brazil"], "desk": "commodities"}
    assert article.body.startswith("Showers continued")
    assert "---" not in article.body
    assert article.body.endswith("155,221 bags of 60 kilos & more are expected.")


def test_sidecar_metadata_is_used_and_not_read_as_an_article() -> None:
    results = read(FIXTURES)
    [article] = [a for a in articles(results) if a.origin == str(FIXTURES / "sidecar_story.txt")]

    assert (article.uid, article.source, article.author) == ("cb-2022-001", "Example Times", "Sam Lee")
    assert article.title == "Central bank holds rates"
    assert article.published_at == datetime(2022, 6, 7, 14, 30, tzinfo=UTC)
    assert article.extra == {"section": "Economy"}
    assert not any(r.origin.startswith(str(FIXTURES / "sidecar_story.txt.meta.json")) for r in results)
    assert not failures(results)


def test_front_matter_wins_over_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "both.md"
    path.write_text("---\ntitle: From front matter\nsource: FM Source\n---\nBody text.\n")
    (tmp_path / "both.md.meta.json").write_text(json.dumps({"Title": "From sidecar", "author": "Side Car"}))

    [article] = read(path)

    assert (article.title, article.source, article.author) == ("From front matter", "FM Source", "Side Car")


def test_malformed_front_matter_is_a_failure(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("---\ntitle: [unclosed\nauthor: x\n---\nBody.\n")
    not_mapping = tmp_path / "list.md"
    not_mapping.write_text("---\n- one\n- two\n---\nBody.\n")

    results = read(bad, not_mapping)

    assert [f.origin for f in results] == [str(bad), str(not_mapping)]
    assert all(isinstance(f, ReadFailure) and f.reason.startswith("malformed front matter") for f in results)


def test_malformed_sidecar_is_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("Some text.")
    (tmp_path / "x.txt.meta.json").write_text("{not json")

    [failure] = read(path)

    assert failure.origin == str(path)
    assert failure.reason.startswith("sidecar x.txt.meta.json: invalid JSON")


# --------------------------------------------------------------------------- HTML


def test_html_main_text_and_metadata_without_boilerplate() -> None:
    path = FIXTURES / "news_page.html"

    [article] = read(path)

    assert article.title == "Iran disconnects IAEA cameras after board resolution"
    assert article.url == "https://ledger.example.com/world/2022/06/09/iran-cameras"
    assert article.source == "The Daily Ledger"
    assert article.author == "Jane Roe"
    # article:published_time 10:00 at +04:30 is 05:30 UTC; the time of day is kept.
    assert article.published_at == datetime(2022, 6, 9, 5, 30, tzinfo=UTC)
    assert article.body.startswith("Iran began disconnecting some 27 cameras")
    assert "conclusion & a return" in article.body
    assert article.title not in article.body
    for boilerplate in ("Subscribe", "newsletter", "Most read", "Celebrity chef", "Copyright", "Privacy", "Cookie"):
        assert boilerplate not in article.body


def test_html_without_main_text_is_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "empty_page.html"
    path.write_text(
        "<html><head><title>Section index</title></head><body>"
        "<header><nav><ul><li><a href='/'>Home</a></li><li><a href='/world'>World</a></li></ul></nav></header>"
        "<aside><h3>Most read</h3><ul><li><a href='/a'>Celebrity chef opens restaurant</a></li></ul></aside>"
        "<footer><p>Copyright 2022 Example. All rights reserved.</p><p><a href='/privacy'>Privacy</a></p></footer>"
        "</body></html>"
    )

    assert read(path) == [ReadFailure(str(path), "no main text found")]


# --------------------------------------------------------------------------- bad files and encodings


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html", ".json", ".jsonl", ".csv"])
def test_empty_file_is_a_failure(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"" if suffix != ".jsonl" else b"\n\n")

    assert read(path) == [ReadFailure(str(path), "empty file")]


@pytest.mark.parametrize("suffix", [".txt", ".html", ".json", ".jsonl", ".csv"])
def test_binary_file_is_a_failure_and_reading_goes_on(tmp_path: Path, suffix: str) -> None:
    binary = tmp_path / f"a_image{suffix}"
    binary.write_bytes(PNG_BYTES * 10)
    good = tmp_path / "b_good.txt"
    good.write_text("Readable text.")

    results = read(tmp_path)

    assert results[0] == ReadFailure(str(binary), "binary file (contains NUL bytes), not text")
    assert [a.body for a in articles(results)] == ["Readable text."]


def test_legacy_and_bom_encodings_are_decoded(tmp_path: Path) -> None:
    cp1252 = tmp_path / "a_cp1252.txt"
    cp1252.write_bytes("Caf\u00e9 owners said \u201cno\u201d \u2013 again.".encode("cp1252"))
    latin1 = tmp_path / "b_latin1.txt"
    latin1.write_bytes(b"Se\xf1or \x81 ok.")  # 0x81 is undefined in cp1252, so latin-1 it is
    bom = tmp_path / "c_bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps({"text": "Na\u00efve"}).encode())
    utf16 = tmp_path / "d_utf16.txt"
    utf16.write_bytes("Gr\u00fc\u00dfe aus K\u00f6ln.".encode("utf-16"))
    jsonl = tmp_path / "e_lines.jsonl"
    jsonl.write_bytes(b'{"text": "caf\xe9"}\n{"text": "caf\xc3\xa9"}\n')

    bodies = [a.body for a in read(tmp_path)]

    assert bodies == [
        "Caf\u00e9 owners said \u201cno\u201d \u2013 again.",
        "Se\u00f1or  ok.",  # the C1 control is dropped by cleaning
        "Na\u00efve",
        "Gr\u00fc\u00dfe aus K\u00f6ln.",
        "caf\u00e9",
        "caf\u00e9",
    ]


# --------------------------------------------------------------------------- paths


def test_folder_walk_is_sorted_recursive_and_skips_hidden_and_unsupported(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.txt").write_text("In b.")
    (tmp_path / "a.txt").write_text("Top a.")
    (tmp_path / "c.md").write_text("Top c.")
    (tmp_path / ".hidden.txt").write_text("Hidden file.")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("Hidden folder.")
    (tmp_path / "photo.png").write_bytes(PNG_BYTES)

    results = read(tmp_path)

    assert [r.body for r in results] == ["Top a.", "In b.", "Top c."]


def test_explicit_paths_unsupported_missing_and_duplicates(tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("Once only.")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    missing = tmp_path / "nope.txt"

    results = read(doc, pdf, missing, "", tmp_path, str(doc))

    assert [a.body for a in articles(results)] == ["Once only."]
    assert failures(results) == [
        ReadFailure(str(pdf), failures(results)[0].reason),
        ReadFailure(str(missing), "no such file or directory"),
        ReadFailure("''", "empty path"),
    ]
    assert failures(results)[0].reason.startswith("unsupported file type '.pdf'; supported: ")


# --------------------------------------------------------------------------- cleaning helpers


def test_clean_text_keeps_paragraphs_and_leaves_bare_ampersands() -> None:
    text = "  AT&T and R&D; a=1&para=2 &amp; &#8220;q&#8221;\x03\r\n\r\n\r\n\r\nNext\u2028line \n"

    assert clean_text(text) == "AT&T and R&D; a=1&para=2 & \u201cq\u201d\n\nNext\nline"


def test_title_from_body_uses_the_first_sentence() -> None:
    assert title_from_body("Prices rose in U.S. markets. Analysts were surprised.\n\nMore.") == (
        "Prices rose in U.S. markets."
    )
    assert title_from_body("No full stop here\n\nSecond paragraph.") == "No full stop here"


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("26-FEB-1987 15:01:01.79", datetime(1987, 2, 26, 15, 1, 1, 790000, tzinfo=UTC)),
        ("5-MAR-1987 09:12:33.11&#9;&#9;&#9;F", datetime(1987, 3, 5, 9, 12, 33, 110000, tzinfo=UTC)),
        ("27-MAR-1987 00:02:59.13RM", datetime(1987, 3, 27, 0, 2, 59, 130000, tzinfo=UTC)),
        ("2022-06-09", datetime(2022, 6, 9, tzinfo=UTC)),
        ("2022-06-09T10:00:00Z", datetime(2022, 6, 9, 10, tzinfo=UTC)),
        ("2022-06-09 10:00:00-05:00", datetime(2022, 6, 9, 15, tzinfo=UTC)),
        ("June 9, 2022", datetime(2022, 6, 9, tzinfo=UTC)),
        ("June 2022", datetime(2022, 6, 1, tzinfo=UTC)),
        ("Thu, 09 Jun 2022 10:00:00 +0430", datetime(2022, 6, 9, 5, 30, tzinfo=UTC)),
        ("9 juin 2022", datetime(2022, 6, 9, tzinfo=UTC)),
        ("2022", datetime(2022, 1, 1, tzinfo=UTC)),
        ("2022/06/09 10:00", datetime(2022, 6, 9, 10, tzinfo=UTC)),
        ("13/01/2026", datetime(2026, 1, 13, tzinfo=UTC)),  # day first: only 13 January can be meant
        (1654768800, datetime(2022, 6, 9, 10, tzinfo=UTC)),
        (1654768800.5, datetime(2022, 6, 9, 10, 0, 0, 500000, tzinfo=UTC)),
        ("1654768800000", datetime(2022, 6, 9, 10, tzinfo=UTC)),
        (datetime(2022, 6, 9, 10), datetime(2022, 6, 9, 10, tzinfo=UTC)),
        (datetime(2022, 6, 9, 10, tzinfo=timezone(timedelta(hours=2))), datetime(2022, 6, 9, 8, tzinfo=UTC)),
        (date(2022, 6, 9), datetime(2022, 6, 9, tzinfo=UTC)),
    ],
)
def test_parse_date_shapes(value: object, expected: datetime) -> None:
    parsed = parse_date(value)  # type: ignore[arg-type]

    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "not a date",
        "yesterday",
        "31-MAR-1987 605:12:19.12",
        True,
        [2022],
        # year first is year-month-day: an impossible month or day is no date, never the two swapped
        "2026-13-01",
        "2026-13-01T09:30:00Z",
        "2026/13/01",
        "2026-02-30",
    ],
)
def test_parse_date_unparseable_is_none(value: object) -> None:
    assert parse_date(value) is None  # type: ignore[arg-type]


def test_unparseable_date_keeps_the_article_and_the_raw_value(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", {"text": "Body.", "date": "sometime soon"})

    [article] = read(path)

    assert article.published_at is None
    assert article.extra == {"date_raw": "sometime soon"}


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.skipif(not REUTERS.is_file(), reason=f"Reuters-21578 corpus not present at {REUTERS}")
def test_first_500_reuters_records() -> None:
    results = list(itertools.islice(read_paths([REUTERS]), 500))
    good = articles(results)

    assert len(results) == 500
    # The only records that fail are the headline-only BRIEF stories with an empty body.
    assert all(f.reason.startswith("no text") for f in failures(results))
    assert len(good) > 400
    assert all(a.published_at is not None and a.published_at.year == 1987 for a in good)
    assert all(a.uid and a.uid.startswith("reuters-") and a.source == "Reuters" for a in good)
    for article in good:
        for text in (article.title, article.body):
            assert "&lt;" not in text and "&#" not in text and "\x03" not in text


# --------------------------------------------------------------------------- hardening (probe findings)


def _strings(value: object) -> list[str]:
    """Every string in a value, dict keys included, for checks over a whole Article."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (*_strings(key), *_strings(item))]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in _strings(item)]
    return []


def test_lone_surrogates_become_replacement_characters_in_every_field(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "surrogates.jsonl",
        r'{"id": "x", "title": "A \ud800 title", "text": "Body \udfff here."}',
        r'{"title": "Only \udc80 title", "text": "Clean body.", "author": "Ann \ud800"}',
        r'{"text": "Untitled \ud800 body. More.", "k\udc80": "v\ud83d", "nested": {"a\ud800": ["b\udfff"]}}',
        r'{"title": "Pair \ud83d\ude00 kept", "text": "A proper pair is not touched."}',
    )

    results = read(path, source="Desk \udcff")  # argv with an undecodable byte arrives like this

    assert not failures(results)
    first, second, third, fourth = results
    assert (first.title, first.body) == ("A \ufffd title", "Body \ufffd here.")
    assert (second.title, second.body, second.author) == ("Only \ufffd title", "Clean body.", "Ann \ufffd")
    assert (third.title, third.body) == ("Untitled \ufffd body.", "Untitled \ufffd body. More.")
    assert third.extra == {"k\ufffd": "v\ufffd", "nested": {"a\ufffd": ["b\ufffd"]}}
    assert fourth.title == "Pair \U0001f600 kept"
    assert first.source == "Desk \ufffd"
    for article in results:
        for text in _strings([article.title, article.body, article.uid, article.source, article.author, article.extra]):
            text.encode("utf-8")  # what later stages do (hashing, tokenizing): must not raise
    assert article_from_record({"text": "Via \udfff API."}, "api").body == "Via \ufffd API."


def test_broken_and_looping_symlinks_fail_alone_and_the_walk_goes_on(tmp_path: Path) -> None:
    top = tmp_path / "top"
    (top / "sub").mkdir(parents=True)
    (top / "a.txt").write_text("First.")
    (top / "m_broken.txt").symlink_to("missing.txt")
    (top / "m_loop.txt").symlink_to("m_loop.txt")
    (top / "m_parent").symlink_to("..")  # symlinked folders: still skipped silently
    (top / "m_self").symlink_to(".")
    (top / "m_gone.png").symlink_to("gone.png")  # unsupported suffix: skipped like any .png
    (top / "sub" / "ping.jsonl").symlink_to("pong.jsonl")
    (top / "sub" / "pong.jsonl").symlink_to("ping.jsonl")
    (top / "sub" / "z.txt").write_text("In sub.")
    (top / "z.txt").write_text("Last.")

    results = read(top)

    assert [(type(r).__name__, Path(r.origin).relative_to(top).as_posix()) for r in results] == [
        ("Article", "a.txt"),
        ("ReadFailure", "m_broken.txt"),
        ("ReadFailure", "m_loop.txt"),
        ("ReadFailure", "sub/ping.jsonl"),
        ("ReadFailure", "sub/pong.jsonl"),
        ("Article", "sub/z.txt"),
        ("Article", "z.txt"),
    ]
    assert {f.reason for f in failures(results)} == {"broken or looping symlink"}
    assert read(top / "m_loop.txt") == [ReadFailure(str(top / "m_loop.txt"), "broken or looping symlink")]
    assert estimate_records([top]) == 3


MENU_ONLY_PAGES = {
    # favor_precision alone turns each of these into an "article" (e.g. titled "Home", body "Home").
    "nav_and_link_blocks": "<body><nav><a href='/'>Home</a></nav><div><a href='/world'>World</a></div>"
    "<div><a href='/contact'>Contact</a></div><footer>(c) 2022 Example News</footer></body>",
    "one_inline_menu": "<head><title>Example News</title></head><body>"
    "<nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/contact'>Contact</a></nav>"
    "<footer><a href='/about'>About us</a> <a href='/privacy'>Privacy</a></footer></body>",
    "link_paragraphs": "<head><title>Example News</title></head><body>"
    "<nav><a href='/'>Home</a> | <a href='/world'>World</a></nav><main><p><a href='/'>Home</a></p>"
    "<p><a href='/world'>World</a></p><p><a href='/contact'>Contact</a></p></main>"
    "<footer><p>Example Ltd</p></footer></body>",
}


@pytest.mark.parametrize("page", sorted(MENU_ONLY_PAGES))
def test_html_of_only_menus_and_footer_is_a_failure(tmp_path: Path, page: str) -> None:
    path = tmp_path / "menu.html"
    path.write_text(f"<html>{MENU_ONLY_PAGES[page]}</html>")
    short = tmp_path / "short.html"  # a short real article with links in its text still reads
    short.write_text(
        "<html><body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav><article><h1>Ferry resumes</h1>"
        "<p>The <a href='/island'>island ferry</a> resumed service on Monday.</p></article></body></html>"
    )

    assert read(path) == [ReadFailure(str(path), "no main text found")]
    [article] = read(short)
    assert (article.title, article.body) == ("Ferry resumes", "The island ferry resumed service on Monday.")


def test_mostly_utf8_with_a_stray_byte_stays_utf8_per_file_and_per_line(tmp_path: Path) -> None:
    story = "Caf\u00e9 news\n\n" + "The caf\u00e9 on the corner reopened. " * 3
    txt = tmp_path / "a_story.txt"
    txt.write_bytes(story.encode() + b"One stray \xe9 byte.\n")
    whole = tmp_path / "b_whole.json"
    whole.write_bytes(
        json.dumps({"title": "Caf\u00e9 news", "text": story}, ensure_ascii=False).encode()[:-2] + b'\xe9"}'
    )
    lines = tmp_path / "c_lines.jsonl"
    lines.write_bytes(
        b'{"text": "caf\xc3\xa9 and caf\xc3\xa9 plus \xe9"}\n'
        b'{"text": "caf\xe9 in cp1252 alone"}\n'  # nothing valid in UTF-8 on this line: cp1252
        b'{"text": "na\xc3\xafve caf\xe9 \xe9t\xe9"}\n'  # more stray bytes than valid: still cp1252
    )
    table = tmp_path / "d_table.csv"
    table.write_bytes(b"title,text\nCaf\xc3\xa9,Le caf\xc3\xa9 d\xc3\xa9j\xc3\xa0 \xe9 ouvert.\n")

    results = read(tmp_path)

    assert not failures(results)
    assert [a.title for a in results][:2] == ["Caf\u00e9 news", "Caf\u00e9 news"]
    assert results[0].body == story[len("Caf\u00e9 news\n\n") :] + "One stray \ufffd byte."
    assert results[1].body == story + "\ufffd"
    assert [a.body for a in results[2:5]] == [
        "caf\u00e9 and caf\u00e9 plus \ufffd",
        "caf\u00e9 in cp1252 alone",
        "na\u00c3\u00afve caf\u00e9 \u00e9t\u00e9",
    ]
    assert (results[5].title, results[5].body) == ("Caf\u00e9", "Le caf\u00e9 d\u00e9j\u00e0 \ufffd ouvert.")
    assert not any("\u00c3\u00a9" in a.title + a.body for a in results)  # no "cafÃ©" mojibake


def test_csv_unterminated_quote_is_reported_where_it_starts_and_earlier_rows_are_kept(tmp_path: Path) -> None:
    simple = tmp_path / "simple.csv"
    simple.write_text('title,text\nOne,First body.\nTwo,"Second body, never closed.\nThree,Third body.\nFour,Fourth.\n')
    later = tmp_path / "later.csv"  # the record starts on line 3; its second quoted field opens on line 4
    later.write_text('title,text\nOne,First body.\n"Multi\nline title","Opens here\nThree,Third body.\nFour,Fourth.')

    results = read(simple, later)

    assert [(a.title, a.origin) for a in articles(results)] == [("One", f"{simple}:2"), ("One", f"{later}:2")]
    assert failures(results) == [
        ReadFailure(f"{simple}:3", "unterminated quote starting at line 3; rest of file skipped"),
        ReadFailure(f"{later}:3", "unterminated quote starting at line 4; rest of file skipped"),
    ]
