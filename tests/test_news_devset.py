"""bench/news_devset.py: which stories become known-item and keyword queries, and the BEIR folder it writes."""

from __future__ import annotations

import json

from bench.news_devset import build, keyword_query, write
from bench.retrieval import read_qrels, read_queries

LEAD = (
    "Iran switched off the surveillance cameras of the International Atomic Energy Agency at two "
    "enrichment sites on Tuesday, the agency said. "
)


def story(n: int, title: str, text: str, split: str = "TRAIN") -> dict:
    return {"_id": f"reuters-{n}", "title": title, "text": text, "lewissplit": split, "date": None, "source": "x"}


def corpus() -> list[dict]:
    filler = " ".join(f"word{i}" for i in range(60))
    return [
        story(1, "IRAN SWITCHES OFF IAEA CAMERAS", LEAD + filler),
        story(2, "IRAN SWITCHES OFF IAEA CAMERAS", "A second story under the same headline. " + filler),
        story(3, "FED ADDS RESERVES", "The Federal Reserve added reserves to the banking system. " + filler),
        story(4, "QTLY DIVIDEND", filler),  # two words, nothing in the body: uninformative
        story(5, "COFFEE PRICES RISE IN BRAZIL", "Coffee prices rose in Brazil on frost fears. " + filler, "TEST"),
        story(6, "COCOA TALKS", "", "TEST"),  # no body: not in the corpus
        story(7, "SAME BODY ONE", "Identical text about coffee prices. " + filler, "TEST"),
        story(8, "SAME BODY TWO", "Identical   text about coffee prices. " + filler, "TEST"),
    ]


def test_headlines_are_removed_and_ambiguous_or_uninformative_stories_dropped(tmp_path):
    records, splits, stats = build(corpus(), per_split=10, seed=1)
    assert [r["_id"] for r in records] == [f"reuters-{n}" for n in (1, 2, 3, 4, 5, 7, 8)]
    assert all(r["title"] == "" for r in records)
    # 1 and 2 share a headline, 4 is uninformative, 7 and 8 share a body (spacing aside)
    assert splits["train"] == {"h-reuters-3": ("FED ADDS RESERVES", "reuters-3")}
    assert splits["test"] == {"h-reuters-5": ("COFFEE PRICES RISE IN BRAZIL", "reuters-5")}
    assert stats["dropped"] == {"headline not unique": 2, "uninformative": 1, "body not unique": 2}
    write(tmp_path, records, splits)
    qrels = read_qrels(tmp_path / "qrels" / "test.tsv")
    assert qrels == {"h-reuters-5": {"reuters-5": 1}}
    assert read_queries(tmp_path / "queries.jsonl", qrels) == {"h-reuters-5": "COFFEE PRICES RISE IN BRAZIL"}
    assert json.loads((tmp_path / "corpus.jsonl").read_text().splitlines()[0])["title"] == ""


def test_keyword_queries_take_lead_words_not_in_the_headline():
    import random

    s = story(1, "IRAN SWITCHES OFF IAEA CAMERAS", LEAD + "More text.")
    for seed in range(20):
        q = keyword_query(s, common={"agency"}, rng=random.Random(seed))
        assert q is not None
        words = q.split()
        assert 2 <= len(words) <= 4
        assert not {"iran", "switched", "cameras", "agency", "the", "of"} & set(words)
        lead = LEAD.lower()
        assert [lead.index(w) for w in words] == sorted(lead.index(w) for w in words)  # in lead order
