"""Fit the learned re-ranking's coefficients (archive/search/rerank.py) and write rerank_weights.py.

    .venv/bin/python -m bench.fit_fusion NEWS_DEVSET --news-index-dir DIR [SCIFACT --scifact-index-dir DIR]

For every judged query of the news dev set's `train` (headlines) and `train-keywords` splits and of
SciFact's `train` split, the hybrid side lists are built by the project's own code (`keyword_articles`,
`semantic_articles`, `fusion_weights`, `score_mix`, as `Searcher._candidates` does) and the fused best
`rerank_window` candidates become rows of `rerank.FEATURES`. One linear model per query length (short:
`short_query_words` words or fewer) is fitted by pairwise logistic regression: every (relevant, other)
pair of a query is one example of "the first goes above the second"; each set weighs the same, each of its
queries the same. Five folds by query id report nDCG@10 of the fusion and of the re-ranking on held-out
queries of each set; then the model is fitted on everything and written (unless --dry-run).
Archives are opened read-only in spirit but migrated on open: pass copies.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.retrieval import as_plain_words, find_split, ndcg_at_k, read_qrels, read_queries

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = PROJECT_ROOT / "archive" / "search" / "rerank_weights.py"
DEFAULT_CACHE = PROJECT_ROOT / "build" / "fit_fusion"
FOLDS = 5
L2 = 1.0  # ridge on the standardised coefficients (per example weight sums to the number of queries)


def query_rows(archive, settings, text: str):
    """(features, fused article ids, short?) of one query, through the project's hybrid code path."""
    from archive.fusion import score_mix
    from archive.search import SearchRequest
    from archive.search.candidates import fusion_weights, keyword_articles, semantic_articles
    from archive.search.rerank import features, held, vector_facts
    from archive.search.terms import keyword_word_count

    query = SearchRequest(q=as_plain_words(text), mode="hybrid").validated().query(settings.labels)
    keyword = keyword_articles(archive, query, settings.candidates, settings.number_weight)
    semantic = semantic_articles(archive, query, 1)
    fused = score_mix(
        {"keyword": dict(keyword), "semantic": {a: s for a, s, _, _ in semantic}},
        weights=fusion_weights(settings, query),
        normalise="zscore",
    )
    window = fused[: settings.rerank_window]
    ids = [a for a, _ in window]
    shares, phrases, _ = held(archive, query, ids)
    vectors = vector_facts(archive, query, ids)
    words = keyword_word_count(query)
    rows = features(keyword, semantic, window, shares, phrases, vectors)
    return rows, [a for a, _ in fused], 0 < words <= settings.short_query_words


def collect(folder: Path, split: str, index_dir: Path, cache: Path, log=print) -> list[dict]:
    """Every judged query of one split as {qid, X, ids (fused order, uids), qrels, short}; cached in `cache`."""
    path = cache / f"{folder.name}-{split}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    from archive.archive import open_archive
    from archive.config import Settings

    settings = Settings.from_env(index_dir=index_dir)
    archive = open_archive(settings, create=False)
    qrels = read_qrels(find_split(folder, split))
    queries = read_queries(folder / "queries.jsonl", qrels)
    rows = []
    for n, (qid, text) in enumerate(queries.items(), start=1):
        X, ids, short = query_rows(archive, settings, text)
        uid_of = article_uids(archive, ids)
        rows.append({"qid": qid, "X": X, "ids": [uid_of[a] for a in ids], "qrels": qrels[qid], "short": short})
        if n % 250 == 0:
            log(f"  {folder.name}/{split}: {n}/{len(queries)}")
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(rows))
    return rows


def article_uids(archive, article_ids: Sequence[int]) -> dict[int, str]:
    """Article id -> uid (the qrels' ids), through the store."""
    from archive.store import reads

    with archive.engine.connect() as conn:
        return {a: row.uid for a, row in reads.result_rows(conn, article_ids).items()}


def pairs(sets: Sequence[Sequence[dict]], short: bool, folds: set[int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise differences (relevant - other) of the chosen queries, with their weights."""
    diffs, weights = [], []
    for rows in sets:
        chosen = [r for r in rows if fold(r) in (folds or range(FOLDS)) and r["short"] == short]
        if not chosen:
            continue
        per_query = 1.0 / len([r for r in rows if fold(r) in (folds or range(FOLDS))])
        for r in chosen:
            y = np.array([r["qrels"].get(uid, 0) > 0 for uid in r["ids"][: len(r["X"])]])
            if not y.any() or y.all():
                continue
            d = (r["X"][y][:, None, :] - r["X"][~y][None, :, :]).reshape(-1, r["X"].shape[1])
            diffs.append(d)
            weights.append(np.full(len(d), per_query / len(d)))
    if not diffs:
        return np.zeros((0, 0)), np.zeros(0)
    return np.vstack(diffs), np.concatenate(weights)


def fit_pairwise(D: np.ndarray, w: np.ndarray, l2: float = L2) -> np.ndarray:
    """Logistic regression without intercept on the differences D (every pair "first wins"), by Newton steps.

    Minimises sum_i w_i log(1 + exp(-D_i b)) + l2/2 |b|^2 on standardised columns; returns b on the raw scale.
    """
    scale = np.abs(D).mean(axis=0) + 1e-9
    Z = D / scale
    w = w / w.sum()
    b = np.zeros(Z.shape[1])
    lam = l2 / max(len(w), 1)
    for _ in range(50):
        m = Z @ b
        p = 1.0 / (1.0 + np.exp(np.clip(m, -30, 30)))  # sigmoid(-m)
        grad = -(Z * (w * p)[:, None]).sum(axis=0) + lam * b
        hess = (Z * (w * p * (1 - p))[:, None]).T @ Z + lam * np.eye(Z.shape[1])
        step = np.linalg.solve(hess, grad)
        b -= step
        if np.abs(step).max() < 1e-8:
            break
    return b / scale


def fold(row: dict) -> int:
    return zlib.crc32(row["qid"].encode()) % FOLDS


def ndcg(rows: Sequence[dict], models: dict[bool, np.ndarray] | None, folds: set[int] | None = None) -> float:
    """Mean nDCG@10 of the chosen queries: the fused order (models None) or the re-ranked window."""
    from archive.search.rerank import order

    total = count = 0
    for r in rows:
        if folds is not None and fold(r) not in folds:
            continue
        ids = r["ids"]
        if models is not None and len(r["X"]) > 1:
            n = len(r["X"])
            ids = [ids[i] for i in order(r["X"], models[r["short"]])] + ids[n:]
        total += ndcg_at_k(ids[:10], r["qrels"], 10)
        count += 1
    return total / max(count, 1)


def fit(sets: Sequence[Sequence[dict]], folds: set[int] | None = None) -> dict[bool, np.ndarray]:
    return {short: fit_pairwise(*pairs(sets, short, folds)) for short in (True, False)}


def write_weights(models: dict[bool, np.ndarray], report: str, path: Path = WEIGHTS) -> None:
    from archive.search.rerank import FEATURES

    def table(coef: np.ndarray) -> str:
        return "\n".join(f'    "{name}": {float(c)!r},' for name, c in zip(FEATURES, coef, strict=True))

    path.write_text(
        '"""Coefficients of the learned re-ranking (archive/search/rerank.py), one table per query length.\n\n'
        "Written by `python -m bench.fit_fusion` (pairwise logistic regression on news headlines, news keyword\n"
        "queries and SciFact claims together); do not edit by hand. Held-out nDCG@10 when it was written:\n"
        + "".join(f"{line}\n" for line in report.splitlines())
        + '"""\n\n'
        f"SHORT = {{\n{table(models[True])}\n}}\nLONG = {{\n{table(models[False])}\n}}\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("news", type=Path, help="news dev set (BEIR folder with train and train-keywords qrels)")
    parser.add_argument("--news-index-dir", type=Path, required=True, help="a copy of its archive")
    parser.add_argument("scifact", type=Path, nargs="?", default=PROJECT_ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--scifact-index-dir", type=Path, required=True, help="a copy of the SciFact archive")
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="feature rows per split (default: %(default)s)"
    )
    parser.add_argument("--dry-run", action="store_true", help="report, write nothing")
    parser.add_argument(
        "--without", default="", help="features left out of the model (coefficients 0), comma-separated"
    )
    args = parser.parse_args(argv)
    from archive.search.rerank import FEATURES

    dropped = [f for f in args.without.split(",") if f]
    if set(dropped) - set(FEATURES):
        parser.error(f"unknown features: {', '.join(sorted(set(dropped) - set(FEATURES)))}")
    keep = [i for i, f in enumerate(FEATURES) if f not in dropped]
    for folder in (args.news, args.scifact):
        if not (folder / "queries.jsonl").exists():
            print(f"skipped: {folder} is not a BEIR folder (no queries.jsonl)", file=sys.stderr)
            return 0
    sets = {
        "news headlines": collect(args.news, "train", args.news_index_dir, args.cache),
        "news keywords": collect(args.news, "train-keywords", args.news_index_dir, args.cache),
        "SciFact": collect(args.scifact, "train", args.scifact_index_dir, args.cache),
    }
    if dropped:  # the model sees only the kept columns
        sets = {name: [{**r, "X": r["X"][:, keep]} for r in rows] for name, rows in sets.items()}
    lists = list(sets.values())
    held = dict.fromkeys(sets, 0.0)
    for k in range(FOLDS):
        models = fit(lists, {j for j in range(FOLDS) if j != k})
        for name, rows in sets.items():
            share = sum(fold(r) == k for r in rows) / len(rows)
            held[name] += share * ndcg(rows, models, {k})
    lines = [f"| set | fusion | re-ranked (held-out folds){' without ' + ', '.join(dropped) if dropped else ''} |"]
    lines.append("|---|---|---|")
    lines += [f"| {name} | {ndcg(rows, None):.4f} | {held[name]:.4f} |" for name, rows in sets.items()]
    report = "\n".join(lines)
    print(report)
    if not args.dry_run:
        models = fit(lists)
        for short, coef in models.items():  # a left-out feature's coefficient is 0
            full = np.zeros(len(FEATURES))
            full[keep] = coef
            models[short] = full
        write_weights(models, report)
        print(f"wrote {WEIGHTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
