"""How often "did you mean" repairs a typo, and how often it questions a query typed right.

    .venv/bin/python -m bench.spelling --index-dir build/reuters [--queries bench/results/news-dev/queries.jsonl]

Queries: the headlines of a BEIR folder's queries.jsonl (by default the news development set's, `bench.news_devset`),
lower-cased as a journalist would type them. Each is searched as typed (keyword mode: the suggestion does not
depend on the mode) and once more with one typo in one word of five letters or more that the archive holds in
`spelling_min_docs` articles or more (a seeded random choice of word and of edit: a letter dropped, doubled,
swapped with the next or replaced by a neighbour on the keyboard). Reported: the share of typed-right queries
that get a suggestion (false alarms), the share of typo queries whose suggestion is the query as typed right
(repaired), gets another suggestion (wrong), or none (missed); and the searches' p50 with and without a typo.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from bench.common import p50

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_QUERIES = PROJECT_ROOT / "bench" / "results" / "news-dev" / "queries.jsonl"
KEYS = "qwertyuiop asdfghjkl zxcvbnm".split()


def neighbour(letter: str, rng: random.Random) -> str:
    """A key next to `letter` on the same keyboard row."""
    for row in KEYS:
        if letter in row:
            i = row.index(letter)
            return rng.choice([row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)])
    return letter


def typo(word: str, rng: random.Random) -> str:
    """One edit inside the word (never its first letter): dropped, doubled, swapped or a neighbouring key."""
    i = rng.randrange(1, len(word) - 1)
    edit = rng.choice(("drop", "double", "swap", "key"))
    if edit == "drop":
        return word[:i] + word[i + 1 :]
    if edit == "double":
        return word[:i] + word[i] + word[i:]
    if edit == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + neighbour(word[i], rng) + word[i + 1 :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True, help="an archive holding the queries' stories")
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES, help="a BEIR queries.jsonl")
    parser.add_argument("--prefix", default="h-", help="only queries whose id starts with this (news headlines)")
    parser.add_argument("--limit", type=int, default=1000, help="queries used")
    parser.add_argument("--seed", type=int, default=21578)
    parser.add_argument("--examples", type=int, default=0, help="print this many false alarms and wrong suggestions")
    args = parser.parse_args(argv)

    from archive.archive import open_archive
    from archive.config import Settings
    from archive.search import SearchRequest
    from archive.search.searcher import Searcher

    settings = Settings.from_env(index_dir=args.index_dir)
    archive = open_archive(settings, create=False)
    searcher = Searcher(archive, settings)
    rng = random.Random(args.seed)
    texts = [json.loads(line) for line in args.queries.open(encoding="utf-8")]
    texts = [" ".join(q["text"].lower().split()) for q in texts if q["_id"].startswith(args.prefix)][: args.limit]

    def search(q: str) -> tuple[str | None, float]:
        started = time.perf_counter()
        said = searcher.search(SearchRequest(q=q, mode="keyword", limit=10)).did_you_mean
        return said, (time.perf_counter() - started) * 1000

    searcher.search(SearchRequest(q="warm up the vocabulary zzqxv", mode="keyword"))
    alarms, outcomes, plain_ms, typo_ms = 0, {"repaired": 0, "wrong": 0, "missed": 0}, [], []
    for text in texts:
        said, ms = search(text)
        alarms += said is not None
        if said is not None and alarms <= args.examples:
            print(f"  false alarm: {text!r} -> {said!r}")
        plain_ms.append(ms)
        words = [w for w in text.split() if len(w) >= 5 and w.isalpha()]
        with archive.engine.connect() as conn:
            held = archive.keyword.word_counts(conn, words, settings.spelling_min_docs)
        words = [w for w in words if held[w] >= settings.spelling_min_docs]
        if not words:
            continue
        word = rng.choice(words)
        wrong = typo(word, rng)
        with archive.engine.connect() as conn:
            stems = archive.keyword.stems(conn, [word, wrong])
        if stems.get(wrong) == stems.get(word):
            continue  # the typo is another spelling of the same index term
        said, ms = search(text.replace(word, wrong, 1))
        typo_ms.append(ms)
        outcomes["repaired" if said == text else "wrong" if said else "missed"] += 1
        if said and said != text and outcomes["wrong"] <= args.examples:
            print(f"  wrong: {text.replace(word, wrong, 1)!r} -> {said!r}")
    tried = sum(outcomes.values())
    print(
        f"{len(texts)} queries typed right: {alarms} got a suggestion ({alarms / len(texts):.1%}); p50 {p50(plain_ms):.1f} ms"
    )
    print(
        f"{tried} with one typo: "
        + ", ".join(f"{k} {n} ({n / max(tried, 1):.1%})" for k, n in outcomes.items())
        + f"; p50 {p50(typo_ms):.1f} ms"
    )
    searcher.close()
    archive.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
