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
from archive.search.rerank import (
    FEATURES,
    INTERACTIONS,
    TERMS,
    coefficients,
    coverage,
    expanded,
    features,
    held,
    order,
    query_pairs,
    vector_facts,
    window_shares,
)
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
    assert column(rows, "rare_words") == [0.0] * 4  # not given: 0
    rare = features(KEYWORD, SEMANTIC, fused, {}, rare={3: 0.25})
    assert [column(rare, "rare_words")[by_id[a]] for a in (1, 2, 3, 4)] == [0.0, 0.0, 0.25, 0.0]


def test_a_word_few_of_the_window_hold_weighs_more_than_the_name_they_all_share():
    """Three stories of one company: the name is in all three, each event word in one; a word no article of the
    window holds does not count."""
    matched = {1: ("acme", "talks"), 2: ("acme",), 3: ("acme", "sells"), 4: ()}
    shares = window_shares(matched)
    name, event = math.log(5 / 3.5), math.log(5 / 1.5)  # held by 3 and by 1 of the 4 articles
    total = name + 2 * event
    assert shares[1] == pytest.approx((name + event) / total) == pytest.approx(shares[3])
    assert shares[2] == pytest.approx(name / total)
    assert shares[4] == 0.0
    assert shares[1] > 2 * shares[2]  # the event word is what sets the story apart, the name is not
    assert window_shares({1: ("acme", "acme")}) == pytest.approx({1: 1.0})  # a repeat counts once
    assert window_shares({1: (), 2: ()}) == {}
    assert window_shares({}) == {}


def rows_of(**columns: list[float]) -> np.ndarray:
    """Rows of `FEATURES`, the named columns given, the rest 0."""
    n = len(next(iter(columns.values())))
    rows = np.zeros((n, len(FEATURES)))
    for name, values in columns.items():
        rows[:, FEATURES.index(name)] = values
    return rows


def coef_of(**terms: float) -> np.ndarray:
    """Coefficients over `TERMS`, the named ones given (a product "a*b" as a__b), the rest 0."""
    coef = np.zeros(len(TERMS))
    for name, value in terms.items():
        coef[TERMS.index(name.replace("__", "*"))] = value
    return coef


def test_order_is_the_linear_score_with_ties_in_fused_order():
    rows = rows_of(coverage=[0.0, 2.0, 0.0, 1.0], phrases=[1.0, 0.0, 1.0, 0.0])
    assert order(rows, coef_of(coverage=1.0)) == [1, 3, 0, 2]
    assert order(rows, coef_of(phrases=1.0)) == [0, 2, 1, 3]
    assert order(rows, coef_of(coverage=1.0, phrases=1.0)) == [1, 0, 2, 3]


def test_the_expansion_appends_the_declared_products_in_order():
    assert len(INTERACTIONS) == 36 and len(set(INTERACTIONS)) == 36  # 8 features: 28 pairs and 8 squares
    assert INTERACTIONS[:2] == (("keyword_z", "keyword_z"), ("keyword_z", "semantic_z"))
    assert INTERACTIONS[-1] == ("rare_words", "rare_words")
    assert TERMS[: len(FEATURES)] == FEATURES
    assert TERMS[len(FEATURES) :] == tuple(f"{a}*{b}" for a, b in INTERACTIONS)
    rows = np.random.default_rng(1).normal(size=(5, len(FEATURES)))
    wide = expanded(rows)
    assert wide.shape == (5, len(TERMS))
    assert np.array_equal(wide[:, : len(FEATURES)], rows)
    for k, (a, b) in enumerate(INTERACTIONS):
        assert wide[:, len(FEATURES) + k] == pytest.approx(rows[:, FEATURES.index(a)] * rows[:, FEATURES.index(b)])
    one = expanded(rows_of(coverage=[0.5], cosine=[0.8]))[0]
    assert one[TERMS.index("cosine*coverage")] == pytest.approx(0.4)
    assert one[TERMS.index("coverage*coverage")] == pytest.approx(0.25)
    assert one[TERMS.index("cosine*cosine")] == pytest.approx(0.64)


def test_order_weighs_a_product_of_two_facts():
    """Coverage that counts only where the meaning is close: the product orders what neither fact does alone."""
    rows = rows_of(coverage=[1.0, 0.5, 1.0], best_cosine=[0.2, 0.9, 0.6])
    assert order(rows, coef_of(coverage__best_cosine=1.0)) == [2, 1, 0]  # 0.2, 0.45, 0.6
    assert order(rows, coef_of(coverage=1.0)) == [0, 2, 1]
    assert order(rows, coef_of(best_cosine=1.0)) == [1, 2, 0]


def test_the_shipped_tables_name_every_term():
    for table in (rerank_weights.SHORT, rerank_weights.LONG):
        assert list(table) == list(TERMS)
        assert all(math.isfinite(v) for v in table.values())
    assert coefficients(True).shape == coefficients(False).shape == (len(TERMS),)


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
    only = dict.fromkeys(TERMS, 0.0)
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
    """A table whose vector facts are 0, alone and in every product, costs no statement for them; a table that
    weighs one of them, or only a product holding one, has them read."""
    from archive.search import rerank as module

    ingest(archive, ARTICLES)
    calls: list[list[int]] = []
    real = module.vector_facts

    def spy(archive_, query, ids):
        calls.append(list(ids))
        return real(archive_, query, ids)

    monkeypatch.setattr(module, "vector_facts", spy)
    only = dict.fromkeys(TERMS, 0.0)
    monkeypatch.setattr(rerank_weights, "SHORT", {**only, "fused": 1.0, "keyword_z*coverage": 1.0, "cosine": 1.0})
    Searcher(archive).search(SearchRequest(q="tin zinc harbour", mode="hybrid"))
    assert calls == []  # no term holds best_cosine or lead_cosine
    monkeypatch.setattr(rerank_weights, "SHORT", {**only, "fused": 1e-6, "lead_cosine": 1.0})
    Searcher(archive).search(SearchRequest(q="tin zinc harbour", mode="hybrid"))
    assert len(calls) == 1 and len(calls[0]) >= 2
    monkeypatch.setattr(rerank_weights, "SHORT", {**only, "fused": 1e-6, "coverage*best_cosine": -0.5})
    Searcher(archive).search(SearchRequest(q="tin zinc harbour", mode="hybrid"))
    assert len(calls) == 2 and len(calls[1]) >= 2


def test_plain_rrf_is_never_reranked(archive, monkeypatch):
    ingest(archive, ARTICLES)
    rrf = replace(archive.settings, fusion="rrf")
    before = uids(Searcher(archive, rrf), "tin zinc harbour")
    monkeypatch.setattr(rerank_weights, "SHORT", {**dict.fromkeys(TERMS, 0.0), "coverage": -1.0})
    assert uids(Searcher(archive, rrf), "tin zinc harbour") == before


def test_matched_words_of_reranked_results_are_the_look_up(archive):
    """The re-ranking's word look-up is what the results report as matched (justify reuses it)."""
    ingest(archive, ARTICLES)
    results = Searcher(archive).search(SearchRequest(q="tin zinc harbour", mode="hybrid", collapse=False)).results
    words = {r.uid: set(r.matched_words) for r in results if r.uid in ("all", "zinc")}
    assert words["all"] >= {"tin", "zinc", "harbour"}
    assert "tin" not in words["zinc"]


def test_short_and_long_queries_use_their_own_table(monkeypatch):
    monkeypatch.setattr(rerank_weights, "SHORT", {**dict.fromkeys(TERMS, 0.0), "coverage": 2.0})
    monkeypatch.setattr(rerank_weights, "LONG", {**dict.fromkeys(TERMS, 0.0), "coverage*phrases": 3.0})
    assert coefficients(True).tolist() == coef_of(coverage=2.0).tolist()
    assert coefficients(False).tolist() == coef_of(coverage__phrases=3.0).tolist()
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
    short, long_ = np.arange(len(TERMS), dtype=float), -np.arange(len(TERMS), dtype=float)
    write_weights({True: short, False: long_}, "| set | fusion | re-ranked |", path)
    written = runpy.run_path(str(path))
    assert list(written["SHORT"]) == list(TERMS)  # the products too, named "a*b"
    assert [written["SHORT"][name] for name in TERMS] == short.tolist()
    assert [written["LONG"][name] for name in TERMS] == long_.tolist()
    assert written["SHORT"]["rare_words*rare_words"] == len(TERMS) - 1


def synthetic_split(rng: np.random.Generator, n: int, prefix: str) -> list[dict]:
    """Cached rows as `bench.fit_fusion.collect` keeps them (the raw `FEATURES`); the relevant article of each
    query is the one where coverage and best_cosine are high together."""
    rows = []
    for q in range(n):
        X = rng.uniform(0.0, 1.0, size=(12, len(FEATURES)))
        best = int(np.argmax(X[:, FEATURES.index("coverage")] * X[:, FEATURES.index("best_cosine")]))
        ids = [f"{prefix}{q}-{i}" for i in range(12)]
        rows.append({"qid": f"{prefix}{q}", "X": X, "ids": ids, "qrels": {ids[best]: 1}, "short": q % 2 == 0})
    return rows


def test_the_fitter_drops_a_left_out_features_products_and_fits_the_rest(tmp_path, monkeypatch):
    """`--without` over cached rows of the features: every term holding the dropped feature is 0 in the
    written tables, the products are fitted from the raw rows, and nothing but the cache is read."""
    import pickle

    import bench.fit_fusion as fit_fusion
    from archive.search.rerank import touching

    rng = np.random.default_rng(0)
    cache = tmp_path / "cache"
    cache.mkdir()
    for folder, split in (("news", "train"), ("news", "train-keywords"), ("scifact", "train")):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / "queries.jsonl").write_text("")
        (cache / f"{folder}-{split}.pkl").write_bytes(pickle.dumps(synthetic_split(rng, 60, f"{split}-")))
    written: list[dict[bool, np.ndarray]] = []
    monkeypatch.setattr(fit_fusion, "write_weights", lambda models, report: written.append(models))
    args = [str(tmp_path / "news"), str(tmp_path / "scifact"), "--cache", str(cache)]
    args += ["--news-index-dir", str(tmp_path / "absent"), "--scifact-index-dir", str(tmp_path / "absent")]

    assert fit_fusion.main([*args, "--without", "lead_cosine,phrases"]) == 0
    dropped = touching(["lead_cosine", "phrases"])
    assert {TERMS[i] for i in dropped} >= {"lead_cosine", "phrases", "coverage*lead_cosine", "phrases*phrases"}
    assert "coverage*best_cosine" in TERMS and TERMS.index("coverage*best_cosine") not in dropped
    for coef in written[0].values():
        assert coef.shape == (len(TERMS),)
        assert not coef[dropped].any()
        assert np.count_nonzero(coef) == len(TERMS) - len(dropped)
        assert coef[TERMS.index("coverage*best_cosine")] > 0  # the product that decides the synthetic relevance

    assert fit_fusion.main(args) == 0  # nothing left out: every term fitted
    assert all(np.count_nonzero(coef) == len(TERMS) for coef in written[1].values())


def test_the_fitter_collects_again_rows_of_another_feature_set(tmp_path):
    """A cache written before a feature was added is not fitted on: it is collected again (here from an archive
    that is not there, so the collection fails instead of the stale rows being used)."""
    import pickle

    from archive.errors import NoArchive
    from bench.fit_fusion import collect

    stale = [{**row, "X": row["X"][:, :-1]} for row in synthetic_split(np.random.default_rng(0), 3, "q")]
    (tmp_path / "news-train.pkl").write_bytes(pickle.dumps(stale))
    said: list[str] = []
    with pytest.raises(NoArchive):
        collect(tmp_path / "news", "train", tmp_path / "absent", tmp_path, log=said.append)
    assert said and "another feature set" in said[0]
    fresh = synthetic_split(np.random.default_rng(0), 3, "q")
    (tmp_path / "news-train.pkl").write_bytes(pickle.dumps(fresh))
    assert [r["qid"] for r in collect(tmp_path / "news", "train", tmp_path / "absent", tmp_path)] == ["q0", "q1", "q2"]
