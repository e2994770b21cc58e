"""Spelling suggestions ("did you mean", `search/spelling.py`): the rules, the index's term counts on both
backends, and the suggestion through the searcher, the API, the page and the CLI."""

from __future__ import annotations

import pytest

from archive.query import parse_query
from archive.search import SearchRequest
from archive.search.searcher import Searcher
from archive.search.spelling import in_case_of, max_edits, questioned_words, respelled, rewritten

QUAKE = "A strong earthquake struck Ecuador on {day}, damaging roads and the oil pipeline near the border."
TEXTS = [QUAKE.format(day=day) for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")] + [
    "Officials in Equador counted the damage after the earthquake of last week.",  # the rare spelling, once
    "Coffee exports from Brazil rose in March as prices held steady.",
    "Kuwait said oil prices would stay firm while output quotas hold.",
    "Kuwait and Brazil talked about oil prices and coffee quotas.",
]


@pytest.fixture
def quakes(archive):
    """An archive of nine articles: `earthquake` and `Ecuador` in six and five of them, `Equador` in one."""
    from archive.readers import article_from_record
    from archive.write import ingest

    records = [{"id": f"a{n}", "title": f"Report {n}", "text": t} for n, t in enumerate(TEXTS)]
    report = ingest(archive, [article_from_record(r, f"r{n}") for n, r in enumerate(records)])
    assert report.added == len(TEXTS)
    return archive


def suggestion(archive, q: str, mode: str = "keyword", **settings) -> str | None:
    searcher = Searcher(archive, archive.settings.with_(**settings))
    try:
        return searcher.search(SearchRequest(q=q, mode=mode, limit=1)).did_you_mean
    finally:
        searcher.close()


# ------------------------------------------------------------------------------ the rules, pure


def test_a_word_keeps_what_it_had_beyond_its_stem():
    assert respelled("earthqake", "earthqak", "earthquak") == "earthquake"
    assert respelled("bankrupcy", "bankrupci", "bankruptci") == "bankruptcy"  # the stem's y -> i
    assert respelled("equador", "equador", "ecuador") == "ecuador"


def test_case_follows_the_typed_word_and_only_whole_words_are_replaced():
    assert [in_case_of(t, "ecuador") for t in ("EQUADOR", "Equador", "equador")] == ["ECUADOR", "Ecuador", "ecuador"]
    typed = 'EARTHQAKE "in Equador" -equadorian title:Equador'
    assert rewritten(typed, {"earthqake": "earthquake", "equador": "ecuador"}) == (
        'EARTHQUAKE "in Ecuador" -equadorian title:Ecuador'
    )


def test_which_words_are_questioned():
    words = questioned_words(parse_query('earthqake AND "oil prises" -kuwiat expo* the big tin U.S. 1987'))
    assert words == ["earthqake", "prises"]  # not excluded, a prefix, short, a stopword or a number
    assert (max_edits("ecuad"), max_edits("ecuado"), max_edits("ecuado", held=1)) == (1, 2, 1)


# ------------------------------------------------------------------------------ the index's counts


def test_the_index_stems_words_as_it_stored_them(quakes):
    """Its own stemmer, folding case and diacritics: a stem found this way is the term the index counts."""
    with quakes.engine.connect() as conn:
        stems = quakes.keyword.stems(conn, ["Earthquake", "earthqake", "technologies", "Équateur", "running"])
        held = quakes.keyword.term_counts(conn, [stems["Earthquake"]])
    assert held == {"earthquak": 6}
    assert {w: stems[w] for w in ("earthqake", "Équateur", "running")} == {
        "earthqake": "earthqak",
        "Équateur": "equateur",
        "running": "run",
    }
    # FTS5's porter and PostgreSQL's Snowball porter part here: each index reads its own
    assert stems["technologies"] == ("technolog" if quakes.engine.dialect.name == "sqlite" else "technologi")


def test_term_counts_and_vocabulary_count_articles_per_stem(quakes):
    with quakes.engine.connect() as conn:
        counts = quakes.keyword.term_counts(conn, ["earthquak", "ecuador", "equador", "zzqx"])
        vocabulary = quakes.keyword.vocabulary(conn, 5)
    assert counts == {"earthquak": 6, "ecuador": 5, "equador": 1, "zzqx": 0}
    assert vocabulary["earthquak"] == 6 and vocabulary["ecuador"] == 5 and "equador" not in vocabulary
    assert all(n >= 5 for n in vocabulary.values())
    with quakes.engine.connect() as conn:
        words = quakes.keyword.word_counts(conn, ["Earthquakes", "earthqake", "Equador"], 3)
    assert words["Earthquakes"] >= 3 and words["earthqake"] == 0 and words["Equador"] == 1  # counted up to 3 at least


# ------------------------------------------------------------------------------ through the searcher


def test_doubtful_words_are_respelled_and_the_query_otherwise_kept(quakes):
    assert suggestion(quakes, "earthqake Ecuadr") == "earthquake Ecuador"
    assert suggestion(quakes, "EARTHQAKE") == "EARTHQUAKE"
    assert suggestion(quakes, '"oil prises" -Kuwait', mode="hybrid") == '"oil prices" -Kuwait'
    assert suggestion(quakes, "earthqake", mode="semantic") == "earthquake"


def test_no_suggestion_for_words_the_archive_holds_or_nothing_close(quakes):
    assert suggestion(quakes, "earthquake Ecuador") is None
    assert suggestion(quakes, "bitcoin blockchain") is None  # nothing close to respell them into
    assert suggestion(quakes, "earthq*") is None  # a prefix is not a word
    assert suggestion(quakes, "Ecuadr <EARTHQAKE>") == "Ecuador <EARTHQAKE>"  # a listing code is left as typed
    assert suggestion(quakes, "earthqake", spelling_min_docs=0) is None  # turned off


def test_a_rare_spelling_is_questioned_only_when_a_close_one_is_far_more_common(quakes):
    # `Equador` is held once, `Ecuador` five times: 5 >= 1 x 5, not >= 1 x 20
    assert suggestion(quakes, "Equador", spelling_ratio=5) == "Ecuador"
    assert suggestion(quakes, "Equador") is None
    # a word never held: any close word held by at least spelling_min_docs articles
    assert suggestion(quakes, "Ecuadr", spelling_min_docs=6) is None and suggestion(quakes, "Ecuadr") == "Ecuador"


def test_the_vocabulary_is_read_once_for_many_suggestions(quakes, monkeypatch):
    reads = []
    original = quakes.keyword.vocabulary
    monkeypatch.setattr(quakes.keyword, "vocabulary", lambda conn, least: reads.append(least) or original(conn, least))
    searcher = Searcher(quakes)
    try:
        said = [
            searcher.search(SearchRequest(q=q, mode="keyword")).did_you_mean for q in ("earthqake", "Ecuadr", "prises")
        ]
    finally:
        searcher.close()
    assert said == ["earthquake", "Ecuador", "prices"] and reads == [3]


# ------------------------------------------------------------------------------ API, page, CLI


def test_the_api_the_page_and_the_cli_offer_it(quakes):
    from click.testing import CliRunner

    from archive.cli import main
    from archive.web import create_app

    client = create_app(archive=quakes).test_client()
    body = client.get("/api/search?q=earthqake+Ecuadr&mode=keyword").get_json()
    assert body["did_you_mean"] == "earthquake Ecuador" and body["total"] == 0
    assert client.get("/api/search?q=earthquake&mode=keyword").get_json()["did_you_mean"] is None
    html = client.get("/search?q=earthqake+Ecuadr&mode=keyword").get_data(as_text=True)
    assert 'Did you mean <a href="/search?q=earthquake+Ecuador&amp;mode=keyword">earthquake Ecuador</a>?' in html
    env = {"ARCHIVE_INDEX_DIR": str(quakes.settings.index_dir), "ARCHIVE_ENCODER": "hash"}
    if quakes.settings.database_url:
        env["ARCHIVE_DATABASE_URL"] = quakes.settings.database_url
    out = CliRunner().invoke(main, ["search", "--mode", "keyword", "earthqake"], env=env)
    assert out.exit_code == 0 and "did you mean: earthquake" in out.output, out.output
