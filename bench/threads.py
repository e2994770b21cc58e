"""Story threads measured on labelled Reuters threads: pairwise precision and recall of the setting and alternatives.

    .venv/bin/python -m bench.threads [--labels bench/thread_labels.tsv] [--index-dir build/reuters]
                                      [--grid]

`--index-dir` is a built archive holding the Reuters articles (uids `reuters-N`) and their vectors. The
articles' facts and vectors are read once; each setting then threads the whole archive in time order
with `archive.threads.assign`, exactly as `archive threads --rebuild` does, and is scored on pairs of
labelled articles: precision = the share of pairs put in one thread that are labelled one thread,
recall = the share of pairs labelled one thread that are put in one. Articles not labelled count in
neither (they still take part in the threading), so the size of the largest thread is printed too:
chains of unrelated reports written on one template (dividends, quarterly results, bond issues) are
the mistake the labels cannot see.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from archive import threads
from archive.archive import open_archive
from archive.config import Settings
from archive.store import threads as store
from archive.write.threads import article_vectors, params
from bench.common import DEFAULT_REUTERS_INDEX, PROJECT_ROOT, Skip, require

LABELS = PROJECT_ROOT / "bench" / "thread_labels.tsv"


def read_labels(path: Path) -> dict[str, str]:
    """uid -> labelled thread name."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, ids = line.split("\t")
        for rid in ids.split():
            if f"reuters-{rid}" in out:
                raise ValueError(f"reuters-{rid} is labelled twice")
            out[f"reuters-{rid}"] = name
    return out


def pairwise(predicted: dict[int, int], gold: dict[int, str]) -> tuple[float, float, int, int]:
    """(precision, recall, predicted pairs, gold pairs) over pairs of labelled articles."""
    tp = pred = true = 0
    for a, b in itertools.combinations(sorted(gold), 2):
        same_gold = gold[a] == gold[b]
        same_pred = predicted.get(a, -a) == predicted.get(b, -b)
        tp += same_gold and same_pred
        pred += same_pred
        true += same_gold
    return (tp / pred if pred else 1.0), (tp / true if true else 1.0), pred, true


def main(argv: Sequence[str] | None = None) -> int:
    """Print precision and recall of the default setting and of the alternatives."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--index-dir", type=Path, default=DEFAULT_REUTERS_INDEX)
    parser.add_argument("--grid", action="store_true", help="every combination, not one setting at a time")
    args = parser.parse_args(argv)
    try:
        require(args.index_dir / "manifest.json", "a built Reuters archive")
    except Skip as exc:
        print(f"skipped: {exc}")
        return 0
    labels = read_labels(args.labels)
    settings = Settings.from_env()
    archive = open_archive(replace(settings, index_dir=args.index_dir))
    started = time.perf_counter()
    with archive.engine.connect() as conn:
        facts = store.all_facts(conn)
        vectors = article_vectors(archive, store.chunk_ids(conn))
        uids = dict(store.uids(conn))
    facts = [f for f in facts if f[0] in vectors]
    matrix = np.vstack([vectors[f[0]] for f in facts])
    gold = {aid: labels[uid] for aid, uid in uids.items() if uid in labels}
    print(
        f"{len(facts)} articles with vectors read in {time.perf_counter() - started:.1f}s; "
        f"{len(gold)} of {len(labels)} labelled articles found, {len(set(gold.values()))} labelled threads"
    )
    base = params(settings)
    if args.grid:
        variants = [threads.Params(s, d, w) for s in (0.5, 0.55, 0.6) for d in (5.0, 7.0) for w in (0.01, 0.02, 0.05)]
    else:
        variants = [base]
        variants += [replace(base, similarity=s) for s in (0.45, 0.5, 0.6, 0.65, 0.7)]
        variants += [replace(base, days=d) for d in (2.0, 3.0, 5.0, 14.0)]
        variants += [replace(base, word_share=w) for w in (0.005, 0.015, 0.02, 0.05, 1.0)]
    print(
        f"{'similarity':>10} {'days':>5} {'words':>6} {'precision':>9} {'recall':>7} {'F1':>6} {'threads':>8} "
        f"{'shared':>7} {'largest':>7} {'seconds':>7}"
    )
    for p in variants:
        tick = time.perf_counter()
        items = [threads.Item(aid, at, threads.title_words(title), story) for aid, at, title, story, _ in facts]
        decided = threads.assign(items, matrix, p)
        took = time.perf_counter() - tick
        precision, recall, _, _ = pairwise(decided, gold)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        sizes: dict[int, int] = {}
        for t in decided.values():
            sizes[t] = sizes.get(t, 0) + 1
        mark = "  <- setting" if p == base else ""
        print(
            f"{p.similarity:>10.2f} {p.days:>5.1f} {p.word_share:>6.3f} {precision:>9.3f} {recall:>7.3f} {f1:>6.3f} "
            f"{len(sizes):>8} {sum(1 for n in sizes.values() if n > 1):>7} {max(sizes.values()):>7} {took:>7.1f}{mark}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
