"""Near-copy detection measured on labelled Reuters pairs: precision and recall of the detector and its alternatives.

    .venv/bin/python -m bench.duplicates [--pairs bench/duplicate_pairs.tsv] [--corpus ../shared/data/...jsonl]
                                         [--index-dir build/reuters]

Each pair in `--pairs` (uid_a, uid_b, same_story) is read from the corpus with the archive's own reader
(so the text is what ingest stores), and judged by:
- the detector as it runs (`archive.duplicates`: a shared LSH bucket, then estimated 5-word-shingle
  containment >= ARCHIVE_DUPLICATE_CONTAINMENT within ARCHIVE_DUPLICATE_HOURS), and the same at other
  thresholds and windows;
- estimated Jaccard instead of containment;
- article-vector cosine (the mean of the stored chunk vectors, as related coverage computes it), with
  and without the time window, when `--index-dir` holds those articles (the old related-coverage rule
  was cosine >= 0.97 with no window).
The pairs were sampled from what either measure finds, so recall is over copies that one of them sees.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archive import duplicates as dup
from archive.config import Settings
from archive.documents import Article
from archive.readers.fields import article_from_record
from bench.common import DEFAULT_REUTERS_INDEX, PROJECT_ROOT, REUTERS, Skip, require

PAIRS = PROJECT_ROOT / "bench" / "duplicate_pairs.tsv"


@dataclass
class Pair:
    """One labelled pair and what each measure says about it."""

    a: str
    b: str
    same: bool
    reason: str
    hours: float | None = None
    containment: float = 0.0
    jaccard: float = 0.0
    bucket: bool = False  # the two share an LSH bucket (the detector compares only those)
    headline_ok: bool = True  # passes the short-item headline rule (archive.duplicates.same_story)
    text_bucket: bool = False  # shares a bucket of the text's bands (not only of the lede's)
    lede: float = 0.0  # estimated Jaccard of the ledes
    judged: bool = False  # the detector as it runs: a shared bucket and archive.duplicates.same_story
    judged_without_figures: bool = False
    cosine: float | None = None
    band: str = ""


def read_pairs(path: Path) -> list[Pair]:
    """The labelled pairs (comment lines start with #)."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    rows = csv.DictReader(lines, delimiter="\t")
    return [Pair(r["uid_a"], r["uid_b"], r["same_story"] == "1", r["reason"], band=r["band"]) for r in rows]


def read_articles(corpus: Path, uids: set[str]) -> dict[str, Article]:
    """The corpus records with these ids, as the archive's reader turns them into articles."""
    out: dict[str, Article] = {}
    with corpus.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            record = json.loads(line)
            if record.get("_id") in uids:
                article = article_from_record(record, f"{corpus}:{n}")
                if isinstance(article, Article):
                    out[record["_id"]] = article
    return out


def measure(pairs: list[Pair], articles: dict[str, Article], settings: Settings) -> None:
    """Fill in each pair's hours apart, estimated containment and Jaccard, and bucket collision."""
    sigs = {uid: dup.signature(a.title or "", a.body) for uid, a in articles.items()}
    for p in pairs:
        a, b = articles[p.a], articles[p.b]
        if a.published_at and b.published_at:
            p.hours = abs((a.published_at - b.published_at).total_seconds()) / 3600
        p.containment = dup.containment(sigs[p.a], sigs[p.b])
        p.jaccard = dup.jaccard(sigs[p.a], sigs[p.b])
        ka, kb = dup.buckets(sigs[p.a]), dup.buckets(sigs[p.b])
        p.bucket = bool(set(ka) & set(kb))
        p.text_bucket = bool(set(ka[: dup.BANDS]) & set(kb[: dup.BANDS]))
        p.lede = dup.lede_jaccard(sigs[p.a], sigs[p.b])
        va = dup.Version(sigs[p.a], a.published_at, a.title or "")
        vb = dup.Version(sigs[p.b], b.published_at, b.title or "")
        rule = {"threshold": settings.duplicate_containment, "hours": settings.duplicate_hours}
        p.judged = p.bucket and dup.same_story(va, vb, **rule) is not None
        no_figures = dup.Signature(sigs[p.b].values, sigs[p.b].shingles, sigs[p.b].lede, sigs[p.a].figures)
        p.judged_without_figures = (
            p.bucket and dup.same_story(va, dup.Version(no_figures, vb.published, vb.title), **rule) is not None
        )
        short = min(sigs[p.a].shingles, sigs[p.b].shingles) < dup.SHORT_SHINGLES
        p.headline_ok = (
            not short
            or p.containment >= dup.SHORT_CONTAINMENT
            or dup.title_overlap(a.title or "", b.title or "") >= dup.TITLE_OVERLAP
        ) and (not short or dup.figure_containment(sigs[p.a], sigs[p.b]) >= dup.SHORT_FIGURES)


def add_cosines(pairs: list[Pair], index_dir: Path) -> bool:
    """Article-vector cosine of each pair from a built archive; False when it cannot be read."""
    from archive.archive import open_archive
    from archive.search.related import _unit
    from archive.store import reads

    if not (index_dir / "manifest.json").exists():
        return False
    archive = open_archive(Settings(index_dir=index_dir, encoder="hash"), verify=False)
    try:
        vectors: dict[str, np.ndarray] = {}
        with archive.session() as s:
            ids = {
                uid: row.id
                for uid in {p.a for p in pairs} | {p.b for p in pairs}
                if (row := reads.find_article(s, uid))
            }
        with archive.engine.connect() as conn:
            for uid, aid in ids.items():
                _, found = archive.chunk_vectors(reads.article_chunk_ids(conn, aid))
                if len(found):
                    vectors[uid] = _unit(found.mean(axis=0))
        for p in pairs:
            if p.a in vectors and p.b in vectors:
                p.cosine = float(vectors[p.a] @ vectors[p.b])
    finally:
        archive.close()
    return True


def within(p: Pair, hours: float | None) -> bool:
    """Published within `hours` (None: no window); undated pairs pass, as in the detector."""
    return hours is None or p.hours is None or p.hours <= hours


def score(pairs: list[Pair], rule: Callable[[Pair], bool]) -> tuple[float, float, float, int, int, int]:
    """(precision, recall, F1, true positives, false positives, false negatives)."""
    tp = sum(1 for p in pairs if rule(p) and p.same)
    fp = sum(1 for p in pairs if rule(p) and not p.same)
    fn = sum(1 for p in pairs if not rule(p) and p.same)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, tp, fp, fn


def rules(settings: Settings, with_cosine: bool) -> list[tuple[str, Callable[[Pair], bool]]]:
    """The detector as configured, then its alternatives."""
    c0, h0 = settings.duplicate_containment, settings.duplicate_hours
    out: list[tuple[str, Callable[[Pair], bool]]] = [
        (
            f"detector: <= {h0:g} h & (containment >= {c0} | lede Jaccard >= {dup.LEDE_JACCARD}) & short-item rules",
            lambda p: p.judged,
        ),
        ("the same without the figures rule", lambda p: p.judged_without_figures),
        (
            "the same without the lede",
            lambda p: p.text_bucket and p.containment >= c0 and within(p, h0) and p.headline_ok,
        ),
        (
            "the same without the lede and the short-item rules",
            lambda p: p.text_bucket and p.containment >= c0 and within(p, h0),
        ),
    ]
    for c in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        for h in (24.0, 36.0, 48.0, 72.0, None):
            out.append(
                (
                    f"containment >= {c} & {f'<= {h:g} h' if h else 'any time'}",
                    lambda p, c=c, h=h: p.text_bucket and p.containment >= c and within(p, h),
                )
            )
    for j in (0.3, 0.5, 0.7, 0.9):
        for h in (36.0, None):
            out.append(
                (
                    f"jaccard >= {j} & {f'<= {h:g} h' if h else 'any time'}",
                    lambda p, j=j, h=h: p.jaccard >= j and within(p, h),
                )
            )
    if with_cosine:
        for t in (0.9, 0.93, 0.95, 0.97, 0.99):
            for h in (36.0, None):
                label = f"cosine >= {t} & {f'<= {h:g} h' if h else 'any time'}" + (
                    " (old related rule)" if t == 0.97 and h is None else ""
                )
                out.append((label, lambda p, t=t, h=h: p.cosine is not None and p.cosine >= t and within(p, h)))
        out.append(
            (
                "the detector | cosine >= 0.95 within 36 h",
                lambda p: within(p, 36.0) and (p.judged or (p.cosine or 0) >= 0.95),
            )
        )
    return out


def link_cost(index_dir: Path, articles: int, batch: int = 128) -> None:
    """What near-copy detection adds to ingest: re-link `articles` stored articles in ingest-sized batches
    (forget, sign, LSH look-up, judge, re-form groups), each in a transaction rolled back (nothing changes)."""
    import time

    from archive.archive import open_archive
    from archive.store import duplicates as store
    from archive.write.stories import link

    archive = open_archive(Settings(index_dir=index_dir, encoder="hash"), verify=False)
    try:
        with archive.engine.connect() as conn:
            ids = [i for i, *_ in store.all_ids(conn)][:: max(1, store.count(conn) // articles)][:articles]
        wall = cpu = 0.0
        for start in range(0, len(ids), batch):
            with archive.engine.connect() as conn:
                tx = conn.begin()
                t0, c0 = time.perf_counter(), time.process_time()
                link(conn, archive.settings, ids[start : start + batch])
                wall += time.perf_counter() - t0
                cpu += time.process_time() - c0
                tx.rollback()
        n = len(ids)
        print(
            f"near-copy detection at ingest: {n} articles in batches of {batch}: "
            f"{1000 * wall / n:.2f} ms wall, {1000 * cpu / n:.2f} ms CPU per article"
        )
    finally:
        archive.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Print precision and recall per rule, and the detector's mistakes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--corpus", type=Path, default=REUTERS)
    parser.add_argument("--index-dir", type=Path, default=DEFAULT_REUTERS_INDEX, help="for vector cosine (optional)")
    parser.add_argument(
        "--link-cost", type=int, default=0, metavar="N", help="also time linking N stored articles of --index-dir"
    )
    args = parser.parse_args(argv)
    try:
        corpus = require(args.corpus, "Reuters corpus")
    except Skip as exc:
        print(f"skipped: {exc}")
        return 0
    pairs = read_pairs(args.pairs)
    articles = read_articles(corpus, {p.a for p in pairs} | {p.b for p in pairs})
    missing = [p for p in pairs if p.a not in articles or p.b not in articles]
    if missing:
        print(
            f"{len(missing)} pairs name articles the corpus lacks: {[(p.a, p.b) for p in missing][:5]}", file=sys.stderr
        )
        pairs = [p for p in pairs if p not in missing]
    settings = Settings()
    measure(pairs, articles, settings)
    with_cosine = add_cosines(pairs, args.index_dir)
    positives = sum(p.same for p in pairs)
    print(
        f"{len(pairs)} labelled pairs ({positives} same story, {len(pairs) - positives} not)"
        + ("" if with_cosine else f"; no archive at {args.index_dir}: cosine rules left out")
    )
    print("| rule | precision | recall | F1 | tp | fp | fn |\n|---|---|---|---|---|---|---|")
    for name, rule in rules(settings, with_cosine):
        p, r, f, tp, fp, fn = score(pairs, rule)
        print(f"| {name} | {p:.3f} | {r:.3f} | {f:.3f} | {tp} | {fp} | {fn} |")
    for band in dict.fromkeys(p.band for p in pairs):
        part = [p for p in pairs if p.band == band]
        p, r, f, tp, fp, fn = score(part, rules(settings, False)[0][1])
        print(
            f"detector on band {band!r} ({len(part)} pairs): precision {p:.3f}, recall {r:.3f} (tp {tp} fp {fp} fn {fn})"
        )
    if args.link_cost and with_cosine:
        link_cost(args.index_dir, args.link_cost)
    chosen = rules(settings, False)[0][1]
    print("\nThe detector's mistakes:")
    for p in pairs:
        if chosen(p) != p.same:
            hours = f"{p.hours:.1f} h" if p.hours is not None else "undated"
            kind = "missed" if p.same else "false copy"
            print(f"  {kind}: {p.a} {p.b} containment {p.containment:.2f}, lede {p.lede:.2f}, {hours}: {p.reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
