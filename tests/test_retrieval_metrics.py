"""The benchmark's metric functions against hand-computed values, and its BEIR readers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.retrieval import (
    as_plain_words,
    evaluate,
    find_split,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    read_qrels,
    read_queries,
    recall_at_k,
)

# Ranking d1..d5; relevant: d2 (grade 2), d4 (grade 1), d9 (grade 1, never retrieved).
RANKED = ["d1", "d2", "d3", "d4", "d5"]
JUDGED = {"d2": 2, "d4": 1, "d9": 1, "d7": 0}


def test_ndcg_hand_computed() -> None:
    # DCG = 2/log2(3) + 1/log2(5) = 1.26186 + 0.43068 = 1.69254
    # ideal = 2/log2(2) + 1/log2(3) + 1/log2(4) = 2 + 0.63093 + 0.5 = 3.13093
    assert ndcg_at_k(RANKED, JUDGED, 10) == pytest.approx(1.69254 / 3.13093, abs=1e-5)
    assert ndcg_at_k(RANKED, JUDGED, 10) == pytest.approx(0.540587, abs=1e-5)
    # Cut at 3: only d2 counts; ideal@3 is the same three grades.
    assert ndcg_at_k(RANKED, JUDGED, 3) == pytest.approx((2 / math.log2(3)) / 3.13093, abs=1e-5)
    assert ndcg_at_k(["d2", "d4", "d9"], JUDGED, 10) == pytest.approx(1.0)
    assert ndcg_at_k(RANKED, {}, 10) == 0.0
    assert ndcg_at_k([], JUDGED, 10) == 0.0


def test_recall_and_mrr_hand_computed() -> None:
    assert recall_at_k(RANKED, JUDGED, 100) == pytest.approx(2 / 3)  # d2, d4 of d2, d4, d9
    assert recall_at_k(RANKED, JUDGED, 3) == pytest.approx(1 / 3)
    assert mrr_at_k(RANKED, JUDGED, 10) == pytest.approx(1 / 2)
    assert mrr_at_k(RANKED, JUDGED, 1) == 0.0
    assert mrr_at_k(["d7", "d4"], JUDGED, 10) == pytest.approx(1 / 2)  # grade 0 is not relevant


def test_evaluate_means_over_judged_queries() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}  # q3 has no relevant doc: not counted
    ndcg, recall, mrr = evaluate({"q1": ["a"], "q2": ["x", "b"]}, qrels)
    assert ndcg == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert recall == pytest.approx(1.0)
    assert mrr == pytest.approx(0.75)
    assert evaluate({}, qrels)[0] == 0.0  # a query without results scores zero


def test_percentile() -> None:
    assert percentile([5, 1, 3], 50) == 3
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile([10, 20], 95) == pytest.approx(19.5)
    assert percentile([], 50) == 0.0


def test_beir_readers(tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n1\t10\t1\n1\t11\t2\n2\t12\t1\n")
    (tmp_path / "queries.jsonl").write_text(
        '{"_id": "1", "text": "a"}\n{"_id": "2", "text": "b"}\n{"_id": "3", "text": "c"}\n'
    )
    qrels = read_qrels(find_split(tmp_path, None))
    assert qrels == {"1": {"10": 1, "11": 2}, "2": {"12": 1}}
    assert read_queries(tmp_path / "queries.jsonl", qrels) == {"1": "a", "2": "b"}


def test_benchmark_queries_are_plain_words() -> None:
    assert as_plain_words('The "so-called" -dimensional gene: X') == "The so-called dimensional gene X"


def test_benchmark_skips_cleanly_without_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.retrieval import main

    assert main([str(tmp_path / "missing")]) == 0
    assert "skipped: BEIR data not found" in capsys.readouterr().err


@pytest.mark.integration
def test_benchmark_end_to_end_on_a_tiny_beir_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], encoder
) -> None:
    import json

    from bench.retrieval import main

    docs = {
        "d1": ("Iran disconnects cameras", "Iran began to disconnect surveillance cameras at nuclear sites."),
        "d2": ("Oil prices rise", "Crude oil prices rose after producers agreed to cut output."),
        "d3": ("Rail line approved", "The council approved a new light rail line for the city."),
    }
    (tmp_path / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": k, "title": t, "text": b}) + "\n" for k, (t, b) in docs.items())
    )
    (tmp_path / "queries.jsonl").write_text(
        '{"_id": "q1", "text": "atomic monitoring equipment switched off"}\n'
        '{"_id": "q2", "text": "\\"oil\\" output cut"}\n'
    )
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    assert main([str(tmp_path), "--index-dir", str(tmp_path / "index"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    by_mode = {r["mode"]: r for r in out["results"]}
    assert set(by_mode) == {"keyword", "semantic", "hybrid"} and out["split"] == "test"
    assert by_mode["semantic"]["ndcg10"] == pytest.approx(1.0) and by_mode["hybrid"]["ndcg10"] == pytest.approx(1.0)
    assert by_mode["keyword"]["mrr10"] == pytest.approx(0.5)  # q1 shares no word with any document


def test_a_result_retrieves_its_story_versions_and_the_texts_stored_under_it() -> None:
    from types import SimpleNamespace

    from bench.retrieval import retrieved

    row = SimpleNamespace(uid="a", versions=[SimpleNamespace(uid="b"), SimpleNamespace(uid="c")])
    assert retrieved(row, {}) == ["a", "b", "c"]  # the story's row, its versions in the order shown
    assert retrieved(row, {"b": ["b2"], "a": ["a2", "a3"]}) == ["a", "a2", "a3", "b", "b2", "c"]
    assert retrieved(row, None) == ["a"]  # --representatives-only


@pytest.mark.integration
def test_versions_and_unstored_copies_are_credited_at_their_rows_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], encoder
) -> None:
    """A story's near copy is folded under the version the search ranks first, and a second copy of a text is not
    stored: the searcher still sees both in that row, so the benchmark credits them there (and not with
    --representatives-only)."""
    import json

    from bench.retrieval import main

    rail = "The council approved a new light rail line for the city after a long debate about its cost and route."
    docs = {
        "d1": ("Oil prices rise", "Crude oil prices rose after producers agreed to cut output."),
        "d2": ("Council backs tram", rail),
        "d3": ("Tram line approved", rail + " Work on the line will start next spring, the mayor said."),
        "d4": ("Oil output cut lifts prices", "Crude oil prices rose after producers agreed to cut output."),
    }
    (tmp_path / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": k, "title": t, "text": b}) + "\n" for k, (t, b) in docs.items())
    )
    (tmp_path / "queries.jsonl").write_text(
        '{"_id": "q1", "text": "light rail line council debate cost route"}\n{"_id": "q2", "text": "crude oil output"}\n'
    )
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text("q1\td3\t1\nq2\td4\t1\n")  # the folded version; the unstored copy
    index = str(tmp_path / "index")
    scores = {}
    for extra in ([], ["--representatives-only"]):
        assert main([str(tmp_path), "--index-dir", index, "--modes", "keyword", "--json", *extra]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["versions_credited"] is not bool(extra)
        scores[bool(extra)] = out["results"][0]
    # q1: d2 (the shorter, best-ranked text) stands for the story, d3 follows it in its row; q2: d1 holds d4's text
    assert scores[False]["recall100"] == pytest.approx(1.0) and scores[False]["ndcg10"] > 0.6
    assert scores[True]["recall100"] == 0.0  # neither relevant id is a result's own article
