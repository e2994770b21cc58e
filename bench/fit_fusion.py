"""Fit the learned re-ranking's coefficients (archive/search/rerank.py) and write rerank_weights.py.

    .venv/bin/python -m bench.fit_fusion NEWS_DEVSET --news-index-dir DIR [SCIFACT --scifact-index-dir DIR]

For every judged query of the news dev set's `train` (headlines) and `train-keywords` splits and of
SciFact's `train` split, the hybrid side lists are built by the project's own code (`keyword_articles`,
`semantic_articles`, `fusion_weights`, `score_mix`, as `Searcher._candidates` does) and the fused best
`rerank_window` candidates become rows of `rerank.FEATURES` (cached so; the products `rerank.INTERACTIONS` are
computed from them here). One linear model per query length (short: `short_query_words` words or fewer) over
`rerank.TERMS` is fitted by pairwise logistic regression: every (relevant, other) pair of a query is one
example of "the first goes above the second"; the headline set weighs `HEADLINE_WEIGHT` and the other two 1,
each query of a set the same. Five folds by query id report nDCG@10 of the fusion and of the re-ranking on held-out
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
# Ridge on the standardised coefficients (the pair weights sum to 1; the penalty is L2 over the number of pairs).
# The 14 features alone were fitted with 1. With their 28 products (`rerank.INTERACTIONS`), which are correlated
# with them and with each other, 1 costs held-out headlines 0.003 at equal set weights, and 10 was the best of
# 10 and 30 at the chosen headline weight (docs/search.md, "Sixth round").
L2 = 10.0
# The headline set's weight against 1 for each of the other two (each set's queries share its weight equally; the
# weight does not change the ridge's scale). At 1 the products' gain goes to keyword queries and SciFact, and
# held-out headlines stay where the 14 features alone had them (0.8271, or 0.8267 with a ridge of 30); headlines
# are the archive's known-item search, and at 3 they gain too while the other two sets stay above the 14 features.
HEADLINE_WEIGHT = 3.0


def query_rows(archive, settings, text: str):
    """(features, fused article ids, short?) of one query, through the project's hybrid code path."""
    from archive.fusion import score_mix
    from archive.search import SearchRequest
    from archive.search.candidates import fusion_weights, keyword_articles, semantic_articles
    from archive.search.rerank import held, vector_facts, window_rows
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
    rows = window_rows(keyword, semantic, window, held(archive, query, ids), vector_facts(archive, query, ids))
    words = keyword_word_count(query)
    return rows, [a for a, _ in fused], 0 < words <= settings.short_query_words


def collect(folder: Path, split: str, index_dir: Path, cache: Path, log=print) -> list[dict]:
    """Every judged query of one split as {qid, X, ids (fused order, uids), qrels, short}; cached in `cache`."""
    from archive.search.rerank import FEATURES

    path = cache / f"{folder.name}-{split}.pkl"
    if path.exists():
        rows = pickle.loads(path.read_bytes())
        if all(r["X"].shape[1] == len(FEATURES) for r in rows):
            return rows
        log(f"  {path}: rows of another feature set, collected again")
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


def pairs(
    sets: Sequence[Sequence[dict]],
    short: bool,
    folds: set[int] | None,
    keep: Sequence[int] | None = None,
    set_weights: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise differences (relevant - other) of the chosen queries over the `keep` columns of `TERMS` (all
    when None), with their weights (each set's queries share its weight from `set_weights`, 1 when None)."""
    from archive.search.rerank import TERMS, expanded

    columns = list(keep) if keep is not None else list(range(len(TERMS)))
    diffs, weights = [], []
    for n, rows in enumerate(sets):
        chosen = [r for r in rows if fold(r) in (folds or range(FOLDS)) and r["short"] == short]
        if not chosen:
            continue
        per_query = (set_weights[n] if set_weights is not None else 1.0) / len(
            [r for r in rows if fold(r) in (folds or range(FOLDS))]
        )
        for r in chosen:
            y = np.array([r["qrels"].get(uid, 0) > 0 for uid in r["ids"][: len(r["X"])]])
            if not y.any() or y.all():
                continue
            X = expanded(r["X"])[:, columns]  # the cache holds the 14 features; the products are computed here
            d = (X[y][:, None, :] - X[~y][None, :, :]).reshape(-1, X.shape[1])
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
    """Mean nDCG@10 of the chosen queries: the fused order (models None) or the re-ranked window (`models`: one
    coefficient vector over `rerank.TERMS` per query length)."""
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


def fit(
    sets: Sequence[Sequence[dict]],
    folds: set[int] | None = None,
    keep: Sequence[int] | None = None,
    set_weights: Sequence[float] | None = None,
    l2: float = L2,
) -> dict[bool, np.ndarray]:
    """One coefficient vector over `rerank.TERMS` per query length, fitted on the `keep` columns (the rest 0)."""
    from archive.search.rerank import TERMS

    columns = list(keep) if keep is not None else list(range(len(TERMS)))
    models = {}
    for short in (True, False):
        full = np.zeros(len(TERMS))
        full[columns] = fit_pairwise(*pairs(sets, short, folds, columns, set_weights), l2)
        models[short] = full
    return models


def kept(dropped: Sequence[str]) -> list[int]:
    """Positions in `rerank.TERMS` the model keeps when `dropped` features are left out: a dropped feature's
    products go with it."""
    from archive.search.rerank import TERMS, touching

    gone = set(touching(dropped))
    return [i for i in range(len(TERMS)) if i not in gone]


def write_weights(models: dict[bool, np.ndarray], report: str, path: Path = WEIGHTS) -> None:
    from archive.search.rerank import TERMS

    def table(coef: np.ndarray) -> str:
        return "\n".join(f'    "{name}": {float(c)!r},' for name, c in zip(TERMS, coef, strict=True))

    path.write_text(
        '"""Coefficients of the learned re-ranking (archive/search/rerank.py), one table per query length.\n\n'
        "Written by `python -m bench.fit_fusion` (pairwise logistic regression on news headlines, news keyword\n"
        "queries and SciFact claims together, over the features and their products `rerank.INTERACTIONS`); do not\n"
        "edit by hand. Held-out nDCG@10 when it was written:\n"
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
        "--without",
        default="",
        help="features left out of the model (coefficients 0, their products too), comma-separated",
    )
    parser.add_argument(
        "--headline-weight",
        type=float,
        default=HEADLINE_WEIGHT,
        help="the headline set's weight against each other set's 1 (default: %(default)s)",
    )
    parser.add_argument(
        "--l2", type=float, default=L2, help="ridge on the standardised coefficients (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    from archive.search.rerank import FEATURES

    dropped = [f for f in args.without.split(",") if f]
    if set(dropped) - set(FEATURES):
        parser.error(f"unknown features: {', '.join(sorted(set(dropped) - set(FEATURES)))}")
    keep = kept(dropped)
    for folder in (args.news, args.scifact):
        if not (folder / "queries.jsonl").exists():
            print(f"skipped: {folder} is not a BEIR folder (no queries.jsonl)", file=sys.stderr)
            return 0
    sets = {
        "news headlines": collect(args.news, "train", args.news_index_dir, args.cache),
        "news keywords": collect(args.news, "train-keywords", args.news_index_dir, args.cache),
        "SciFact": collect(args.scifact, "train", args.scifact_index_dir, args.cache),
    }
    lists = list(sets.values())
    weights = [args.headline_weight if name == "news headlines" else 1.0 for name in sets]
    held = dict.fromkeys(sets, 0.0)
    for k in range(FOLDS):
        models = fit(lists, {j for j in range(FOLDS) if j != k}, keep, weights, args.l2)
        for name, rows in sets.items():
            share = sum(fold(r) == k for r in rows) / len(rows)
            held[name] += share * ndcg(rows, models, {k})
    lines = [f"| set | fusion | re-ranked (held-out folds){' without ' + ', '.join(dropped) if dropped else ''} |"]
    lines.append("|---|---|---|")
    lines += [f"| {name} | {ndcg(rows, None):.4f} | {held[name]:.4f} |" for name, rows in sets.items()]
    report = "\n".join(lines)
    print(report)
    if not args.dry_run:
        write_weights(fit(lists, None, keep, weights, args.l2), report)  # a left-out term's coefficient is 0
        print(f"wrote {WEIGHTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
