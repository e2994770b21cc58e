"""A news development set from Reuters-21578, as a BEIR folder that `bench.retrieval` runs.

    .venv/bin/python -m bench.news_devset ../shared/data/reuters21578/corpus.jsonl --out bench/results/news-dev
    .venv/bin/python -m bench.retrieval bench/results/news-dev --split test --index-dir build/news-dev

The corpus is every Reuters story with a body, its headline removed (the record's title is
empty, so the archive derives one from the lead, as for any untitled record). Two kinds of
query look for one story each (qrels grade 1):

- known item (`h-<story>`): the story's headline, as a journalist remembers it.
- keywords (`k-<story>`): 2 to 4 words of the story's lead (first sentence) that are not in
  the headline and are not among the corpus's most common words, kept in lead order: what a
  journalist types when only a few words of the story come back.

Stories are kept as queries only when the headline can name one story: a headline that
occurs more than once (normalised: "FED ADDS RESERVES VIA CUSTOMER REPURCHASES" x14) or a
body shared with another story is ambiguous, and a headline with fewer than 3 words, a body
shorter than 40 words, or no headline word in the body (earnings tables: "DALLAS CORP <DLS>
3RD QTR NET" over "Shr 30 cts vs 12 cts ...") is uninformative. The `lewissplit` TRAIN
stories give `qrels/train*.tsv` (for tuning), TEST stories `qrels/test*.tsv` (for the check);
`--per-split` stories are sampled from each (seeded), the same stories for both kinds.
Splits: `train`, `test` (headlines), `train-keywords`, `test-keywords`.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = PROJECT_ROOT.parent / "shared" / "data" / "reuters21578" / "corpus.jsonl"
DEFAULT_OUT = PROJECT_ROOT / "bench" / "results" / "news-dev"
MIN_HEADLINE_WORDS = 3
MIN_BODY_WORDS = 40
COMMON_WORDS = 300  # keyword queries skip the corpus's most common words (said, pct, mln, company ...)
_WORD = re.compile(r"[a-z][a-z0-9'.-]*[a-z0-9]|[a-z]{2,}")
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)])\.\s+(?=[A-Z])")
STOP = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with from has have had its he she his her we our you were been which who also "
    "would could should may can than after over about up down new says said".split()
)


def words(text: str) -> list[str]:
    """Lower-case word tokens (letters first; inner dots, hyphens and apostrophes kept)."""
    return _WORD.findall(text.lower())


def stem(word: str) -> str:
    """A crude stem for comparing a lead word with the headline's words (sales ~ sale, cuts ~ cut)."""
    return word.strip("'.-")[:5]


def normalised(text: str) -> str:
    return " ".join(html.unescape(text).lower().split())


def lead(body: str) -> str:
    """The first sentence of the story (Reuters leads are one sentence, hard-wrapped)."""
    flat = " ".join(body.split())
    return _SENTENCE_END.split(flat, maxsplit=1)[0]


def read(source: Path) -> list[dict]:
    with source.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def keyword_query(story: dict, common: set[str], rng: random.Random) -> str | None:
    """2-4 lead words not in the headline and not common, in lead order; None when fewer than 2 qualify."""
    in_headline = {stem(w) for w in words(html.unescape(story["title"]))}
    seen: set[str] = set()
    pool: list[str] = []
    for w in words(html.unescape(lead(story["text"]))):
        w = w.strip("'.-")
        if len(w) < 3 or not w[0].isalpha() or w in STOP or w in common or stem(w) in in_headline or w in seen:
            continue
        seen.add(w)
        pool.append(w)
    if len(pool) < 2:
        return None
    n = min(len(pool), rng.choice((2, 3, 4)))
    picked = sorted(rng.sample(range(len(pool)), n))
    return " ".join(pool[i] for i in picked)


def informative(story: dict) -> bool:
    """A headline of 3+ words over a body of 40+ words that shares at least one headline word."""
    headline = [w for w in words(html.unescape(story["title"])) if w not in STOP]
    body_stems = {stem(w) for w in words(html.unescape(story["text"]))}
    return (
        len(headline) >= MIN_HEADLINE_WORDS
        and len(story["text"].split()) >= MIN_BODY_WORDS
        and any(stem(w) in body_stems for w in headline if w.isalpha())
    )


def build(stories: Sequence[dict], per_split: int, seed: int) -> tuple[list[dict], dict[str, dict], dict]:
    """(corpus records, {split: {query id: (text, story id)}}, statistics)."""
    with_body = [s for s in stories if s["text"].strip()]
    corpus = [
        {"_id": s["_id"], "title": "", "text": s["text"], "date": s.get("date"), "source": s.get("source")}
        for s in with_body
    ]
    headline_count = Counter(normalised(s["title"]) for s in with_body)
    body_count = Counter(hashlib.sha256(" ".join(s["text"].split()).encode()).hexdigest() for s in with_body)
    doc_freq: Counter[str] = Counter()
    for s in with_body:
        doc_freq.update(set(words(s["text"])))
    common = {w for w, _ in doc_freq.most_common(COMMON_WORDS)}

    stats: dict = {"stories": len(stories), "with_body": len(with_body), "dropped": Counter()}
    eligible: dict[str, list[dict]] = {"TRAIN": [], "TEST": []}
    for s in with_body:
        split = s.get("lewissplit")
        if split not in eligible:
            stats["dropped"]["not TRAIN/TEST"] += 1
        elif not normalised(s["title"]):
            stats["dropped"]["no headline"] += 1
        elif headline_count[normalised(s["title"])] > 1:
            stats["dropped"]["headline not unique"] += 1
        elif body_count[hashlib.sha256(" ".join(s["text"].split()).encode()).hexdigest()] > 1:
            stats["dropped"]["body not unique"] += 1
        elif not informative(s):
            stats["dropped"]["uninformative"] += 1
        else:
            eligible[split].append(s)
    stats["eligible"] = {k: len(v) for k, v in eligible.items()}

    rng = random.Random(seed)
    splits: dict[str, dict] = {}
    for split, name in (("TRAIN", "train"), ("TEST", "test")):
        chosen = sorted(rng.sample(eligible[split], min(per_split, len(eligible[split]))), key=lambda s: s["_id"])
        splits[name] = {f"h-{s['_id']}": (" ".join(html.unescape(s["title"]).split()), s["_id"]) for s in chosen}
        kw = {}
        for s in chosen:
            q = keyword_query(s, common, rng)
            if q:
                kw[f"k-{s['_id']}"] = (q, s["_id"])
        splits[f"{name}-keywords"] = kw
    stats["dropped"] = dict(stats["dropped"])
    stats["queries"] = {name: len(qs) for name, qs in splits.items()}
    stats["query_words"] = {
        name: round(sum(len(t.split()) for t, _ in qs.values()) / max(1, len(qs)), 2) for name, qs in splits.items()
    }
    return corpus, splits, stats


def write(out: Path, corpus: Iterable[dict], splits: dict[str, dict]) -> None:
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for record in corpus:
            fh.write(json.dumps(record) + "\n")
    with (out / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for queries in splits.values():
            for qid, (text, _) in queries.items():
                fh.write(json.dumps({"_id": qid, "text": text}) + "\n")
    for name, queries in splits.items():
        lines = ["query-id\tcorpus-id\tscore", *(f"{qid}\t{doc}\t1" for qid, (_, doc) in queries.items())]
        (out / "qrels" / f"{name}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE, help="Reuters corpus.jsonl")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="BEIR folder to write (default: %(default)s)")
    parser.add_argument("--per-split", type=int, default=1500, help="stories sampled per lewissplit")
    parser.add_argument("--seed", type=int, default=21578)
    args = parser.parse_args(argv)
    if not args.source.exists():
        print(f"skipped: Reuters data not found ({args.source})", file=sys.stderr)
        return 0
    corpus, splits, stats = build(read(args.source), args.per_split, args.seed)
    write(args.out, corpus, splits)
    (args.out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(stats, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
