"""The learned re-ranking of the hybrid window: its features, the model's application, the Searcher's use of it."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from archive.documents import Article
from archive.fusion import score_mix
from archive.query import parse_query
from archive.search import Searcher, SearchRequest, rerank_weights
from archive.search.rerank import FEATURES, coefficients, coverage, features, held, order, query_pairs, vector_facts
from archive.write import ingest

KEYWORD = [(1, 9.0), (2, 6.0), (3, 3.0)]
SEMANTIC = [(2, 0.8, 20, 0.79), (4, 0.6, 40, 0.6)]  # (article, score, best chunk, its cosine)


def column(rows: np.ndarray, name: str) -> list[float]:
    return rows[:, FEATURES.index(name)].tolist()


def test_features_follow_the_two_windows():
    fused = score_mix({"keyword": dict(KEYWORD), "semantic": {a: s for a, s, _, _ in SEMANTIC}}, normalise="zscore")
    ids = [a for a, _ in fused]
    rows = features(KEYWORD, SEMANTIC, fused, {1: 1.0, 2: 0.5})
    assert rows.shape == (4, len(FEATURES))
    kw = np.array([s for _, s in KEYWORD])
    z = (kw - kw.mean()) / kw.std()
    by_id = {a: i for i, a in enumerate(ids)}
    assert column(rows, "keyword_z")[by_id[1]] == pytest.approx(z[0])
    assert column(rows, "keyword_z")[by_id[4]] == pytest.approx(z.min())  # absent: the window's lowest
    assert column(rows, "semantic_z")[by_id[2]] == pytest.approx(1.0)  # two values: +-1
    assert column(rows, "semantic_z")[by_id[1]] == pytest.approx(-1.0)
    assert [column(rows, "keyword_in")[by_id[a]] for a in (1, 2, 3, 4)] == [1, 1, 1, 0]
    assert [column(rows, "semantic_in")[by_id[a]] for a in (1, 2, 3, 4)] == [0, 1, 0, 1]
    assert column(rows, "keyword_log_rank")[by_id[3]] == pytest.approx(math.log(3))
    assert column(rows, "keyword_log_rank")[by_id[4]] == pytest.approx(math.log(len(KEYWORD) + 1))
    assert column(rows, "semantic_log_rank")[by_id[1]] == pytest.approx(math.log(len(SEMANTIC) + 1))
    assert column(rows, "keyword_ratio")[by_id[2]] == pytest.approx(6.0 / 9.0)
    assert column(rows, "keyword_ratio")[by_id[4]] == 0.0
    assert column(rows, "cosine")[by_id[2]] == pytest.approx(0.79)
    assert column(rows, "cosine")[by_id[1]] == pytest.approx(0.6)  # outside the semantic window: its lowest
    assert column(rows, "fused") == pytest.approx([s for _, s in fused])
    assert column(rows, "fused_log_rank") == pytest.approx([math.log(i) for i in range(1, 5)])
    assert [column(rows, "coverage")[by_id[a]] for a in (1, 2, 3, 4)] == [1.0, 0.5, 0.0, 0.0]


def test_order_is_the_linear_score_with_ties_in_fused_order():
    rows = np.array([[0.0, 1.0], [2.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert order(rows, np.array([1.0, 0.0])) == [1, 3, 0, 2]
    assert order(rows, np.array([0.0, 1.0])) == [0, 2, 1, 3]
    assert order(rows, np.array([1.0, 1.0])) == [1, 0, 2, 3]


def test_the_shipped_tables_name_every_feature():
    for table in (rerank_weights.SHORT, rerank_weights.LONG):
        assert set(table) == set(FEATURES)
        assert all(math.isfinite(v) for v in table.values())
    assert coefficients(True).shape == coefficients(False).shape == (len(FEATURES),)


ARTICLES = [
    Article(uid="all", title="Harbour report", body="Tin and zinc shipments left the harbour on Monday."),
    Article(uid="tin", title="Tin report", body="Tin tin tin. Tin stocks rose again, tin traders said."),
    Article(uid="zinc", title="Zinc report", body="Zinc stocks fell at the harbour warehouse."),
    Article(uid="none", title="Weather report", body="Rain fell in the north for a week."),
    *(Article(uid=f"f{i}", title=f"Filler {i}", body=f"Item {i} of the week was filed.") for i in range(6)),
]


def test_coverage_counts_the_query_words_each_article_holds(archive):
    """On both backends: the share of the ranking words (stemmed, title or body) and the words themselves."""
    ingest(archive, ARTICLES)
    with archive.engine.connect() as conn:
        ids = {u: i for i, u in conn.exec_driver_sql("SELECT id, uid FROM articles").all()}
    query = SearchRequest(q="tin zinc harbour", mode="hybrid").validated().query()
    shares, matched = coverage(archive, query, [ids["all"], ids["tin"], ids["zinc"], ids["none"]])
    assert shares[ids["all"]] == pytest.approx(1.0)
    assert shares[ids["tin"]] == pytest.approx(1 / 3)
    assert shares[ids["zinc"]] == pytest.approx(2 / 3)
    assert shares[ids["none"]] == 0.0
    assert set(matched[ids["zinc"]]) == {"zinc", "harbour"}


def test_query_pairs_are_adjacent_words_with_a_stopword_between_at_most():
    query = SearchRequest(q="Trade deficit widens in January, of the year", mode="hybrid").validated().query()
    pairs = query_pairs(query)
    assert [p.words for p in pairs.values()] == [  # type: ignore[attr-defined]
        ("Trade", "deficit"),
        ("deficit", "widens"),
        ("widens", "in", "January,"),
    ]  # "January, of the year": two stopwords between, no pair
    assert query_pairs(SearchRequest(q="zinc", mode="hybrid").validated().query()) == {}


def test_vector_facts_are_the_best_and_the_first_chunks_cosines(archive):
    """The window's articles' chunk vectors (from the loaded index) against the query's: the best and the first."""
    long_body = " ".join(f"Paragraph {i} about tin mining and zinc smelting in the north." * 12 for i in range(8))
    ingest(archive, [*ARTICLES, Article(uid="long", title="Long report", body=long_body)])
    with archive.engine.connect() as conn:
        ids = {u: i for i, u in conn.exec_driver_sql("SELECT id, uid FROM articles").all()}
        chunks = conn.exec_driver_sql(f"SELECT id FROM chunks WHERE article_id = {ids['long']} ORDER BY seq").all()
    assert len(chunks) > 1
    query = SearchRequest(q="tin zinc harbour", mode="hybrid").validated().query()
    facts = vector_facts(archive, query, [ids["long"], ids["tin"]])
    chunk_ids, matrix = archive.stored_vectors([int(c) for (c,) in chunks])
    assert len(chunk_ids) == len(chunks)
    cosines = matrix @ archive.encoder.encode_query(query.text_for_embedding).reshape(-1)
    assert facts[ids["long"]] == pytest.approx((cosines.max(), cosines[0]))
    assert facts[ids["tin"]][0] == pytest.approx(facts[ids["tin"]][1])  # one chunk
    rows = features(KEYWORD, SEMANTIC, [(1, 1.0), (2, 0.5)], {}, {1: 0.5}, {1: (0.9, 0.4)})
    assert column(rows, "phrases") == [0.5, 0.0]
    assert column(rows, "best_cosine") == [0.9, 0.4] and column(rows, "lead_cosine") == [0.4, 0.4]  # none: lowest


def test_held_finds_the_pairs_as_phrases_in_the_article_and_in_its_title(archive):
    """On both backends, in the coverage's one look-up: "zinc stocks" and "stocks fell" are phrases of one
    article's body ("tin" holds "stocks" and "tin" apart from "zinc"), "tin report" is in a title."""
    ingest(archive, ARTICLES)
    with archive.engine.connect() as conn:
        ids = {u: i for i, u in conn.exec_driver_sql("SELECT id, uid FROM articles").all()}
    query = SearchRequest(q="zinc stocks fell tin report", mode="hybrid").validated().query()
    assert len(query_pairs(query)) == 4  # zinc stocks, stocks fell, fell tin, tin report
    shares, phrases, matched = held(archive, query, [ids["zinc"], ids["tin"], ids["none"]])
    assert phrases[ids["zinc"]] == pytest.approx(2 / 4)
    assert phrases[ids["tin"]] == pytest.approx(1 / 4)  # "tin report", in the title
    assert phrases[ids["none"]] == 0.0
    assert shares[ids["zinc"]] == pytest.approx(4 / 5) and set(matched[ids["zinc"]]) == {
        "zinc",
        "stocks",
        "fell",
        "report",
    }


def uids(searcher: Searcher, q: str) -> list[str]:
    return [r.uid for r in searcher.search(SearchRequest(q=q, mode="hybrid", collapse=False)).results]


def test_the_searcher_orders_its_window_by_the_model_and_keeps_the_rest(archive, monkeypatch):
    """With coverage as the only feature the article holding every word leads; with the fused score as the
    only one the order is the fusion's; outside the window nothing moves; the result set is the same."""
    ingest(archive, ARTICLES)
    q = "tin zinc harbour"
    plain = uids(Searcher(archive, replace(archive.settings, rerank_window=0)), q)
    only = dict.fromkeys(FEATURES, 0.0)
    monkeypatch.setattr(rerank_weights, "SHORT", {**only, "fused": 1.0})
    monkeypatch.setattr(rerank_weights, "LONG", {**only, "fused": 1.0})
    assert uids(Searcher(archive), q) == plain
    monkeypatch.setattr(rerank_weights, "SHORT", {**only, "coverage": 1.0, "fused": 1e-6})
    covered = uids(Searcher(archive, replace(archive.settings, rerank_window=3)), q)
    assert covered[0] == "all"
    assert sorted(covered[:3]) == sorted(plain[:3]) and covered[3:] == plain[3:]
    monkeypatch.setattr(rerank_weights, "SHORT", {**only, "coverage": -1.0})
    against = uids(Searcher(archive, replace(archive.settings, rerank_window=3)), q)
    held = {"all": 3, "zinc": 2, "tin": 1}  # query words each holds; the rest none
    assert against[:3] == sorted(plain[:3], key=lambda u: (held.get(u, 0), plain.index(u)))
    assert set(against) == set(plain)


def test_the_chunk_cosines_are_read_only_when_the_model_weighs_them(archive, monkeypatch):
    """A table whose vector facts are 0 (the shipped one, fitted without them) costs no statement for them; a table
    that weighs them has them read, and a searched window changes order by them."""
    from archive.search import rerank as module

    ingest(archive, ARTICLES)
    calls: list[list[int]] = []
    real = module.vector_facts

    def spy(archive_, query, ids):
        calls.append(list(ids))
        return real(archive_, query, ids)

    monkeypatch.setattr(module, "vector_facts", spy)
    only = dict.fromkeys(FEATURES, 0.0)
    monkeypatch.setattr(rerank_weights, "SHORT", {**only, "fused": 1.0})
    Searcher(archive).search(SearchRequest(q="tin zinc harbour", mode="hybrid"))
    assert calls == []
    monkeypatch.setattr(rerank_weights, "SHORT", {**only, "fused": 1e-6, "lead_cosine": 1.0})
    Searcher(archive).search(SearchRequest(q="tin zinc harbour", mode="hybrid"))
    assert len(calls) == 1 and len(calls[0]) >= 2


def test_plain_rrf_is_never_reranked(archive, monkeypatch):
    ingest(archive, ARTICLES)
    rrf = replace(archive.settings, fusion="rrf")
    before = uids(Searcher(archive, rrf), "tin zinc harbour")
    monkeypatch.setattr(rerank_weights, "SHORT", {**dict.fromkeys(FEATURES, 0.0), "coverage": -1.0})
    assert uids(Searcher(archive, rrf), "tin zinc harbour") == before


def test_matched_words_of_reranked_results_are_the_look_up(archive):
    """The re-ranking's word look-up is what the results report as matched (justify reuses it)."""
    ingest(archive, ARTICLES)
    results = Searcher(archive).search(SearchRequest(q="tin zinc harbour", mode="hybrid", collapse=False)).results
    words = {r.uid: set(r.matched_words) for r in results if r.uid in ("all", "zinc")}
    assert words["all"] >= {"tin", "zinc", "harbour"}
    assert "tin" not in words["zinc"]


def test_short_and_long_queries_use_their_own_table(monkeypatch):
    monkeypatch.setattr(rerank_weights, "SHORT", {**dict.fromkeys(FEATURES, 0.0), "coverage": 2.0})
    monkeypatch.setattr(rerank_weights, "LONG", {**dict.fromkeys(FEATURES, 0.0), "coverage": 3.0})
    assert coefficients(True)[FEATURES.index("coverage")] == 2.0
    assert coefficients(False)[FEATURES.index("coverage")] == 3.0
    assert parse_query("tin zinc harbour").terms  # the queries above are short (<= short_query_words)


def test_the_fitter_learns_the_direction_that_orders_the_pairs():
    from bench.fit_fusion import fit_pairwise

    rng = np.random.default_rng(0)
    diffs = rng.normal(size=(600, 3))
    truth = np.array([2.0, -1.0, 0.0])
    diffs = diffs[np.abs(diffs @ truth) > 0.1] * np.sign(diffs[np.abs(diffs @ truth) > 0.1] @ truth)[:, None]
    coef = fit_pairwise(diffs, np.ones(len(diffs)))
    assert coef[0] > 0 > coef[1]
    assert abs(coef[2]) < 0.25 * abs(coef[0])
    assert (diffs @ coef > 0).mean() > 0.95


def test_the_written_weights_are_the_tables_the_reranking_reads(tmp_path):
    import runpy

    from bench.fit_fusion import write_weights

    path = tmp_path / "weights.py"
    short, long_ = np.arange(len(FEATURES), dtype=float), -np.arange(len(FEATURES), dtype=float)
    write_weights({True: short, False: long_}, "| set | fusion | re-ranked |", path)
    written = runpy.run_path(str(path))
    assert [written["SHORT"][name] for name in FEATURES] == short.tolist()
    assert [written["LONG"][name] for name in FEATURES] == long_.tolist()
