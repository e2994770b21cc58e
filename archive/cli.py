"""Command line: `archive ingest | seed | search | related | stats | delete | reindex | migrate | duplicates | threads | serve |
settings`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from archive.cli_common import _archive, _fail_cleanly
from archive.cli_desk import batch_group, saved_group
from archive.cli_maintain import compact, duplicates, migrate, threads
from archive.config import Settings
from archive.documents import DATE_RAW
from archive.errors import ArchiveError
from archive.limits import (
    CLAMP_CEILING,
    COLLAPSE_HELP,
    DEFAULT_COLLAPSE,
    DEFAULT_LIMIT,
    DEFAULT_MODE,
    DEFAULT_SORT,
    MODES,
    RELATED_DEFAULT,
    RELATED_MAX,
    SORTS,
)

if TYPE_CHECKING:
    from datetime import datetime

    from archive.write import IngestProgress


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--index-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="ARCHIVE_INDEX_DIR",
    help="Data directory (default: ./index).",
)
@click.pass_context
def main(ctx: click.Context, index_dir: Path | None) -> None:
    """A searchable news-article archive with keyword, semantic and hybrid search."""
    # The process entry point sets these defaults, not a library import: never reach for a
    # model hub (the model ships inside a Python package, and the ONNX export is local), and
    # keep the tokenizers' thread pool from warning when the server or a test forks.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        ctx.obj = {"settings": Settings.from_env(index_dir=index_dir)}
    except ArchiveError as exc:
        raise click.ClickException(exc.message) from None


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--source", help="Outlet name for articles that do not name one.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--progress",
    type=click.Choice(["bar", "json", "none"]),
    default="bar",
    show_default=True,
    help="On stderr: a progress bar, one JSON object per update (for scripts and tests), or nothing.",
)
@click.pass_context
@_fail_cleanly
def ingest(ctx: click.Context, paths: tuple[Path, ...], source: str | None, as_json: bool, progress: str) -> None:
    """Add articles from files or folders (.txt .md .html .json .jsonl .csv), recursively."""
    from dataclasses import asdict

    from tqdm import tqdm

    from archive.readers import estimate_records, read_paths
    from archive.write import ingest as run_ingest

    def emit(event: dict) -> None:
        if progress == "json":
            click.echo(json.dumps(event), err=True)

    emit({"stage": "opening"})
    archive = _archive(ctx, create=True)
    bar = tqdm(
        total=0,
        unit="chunk",
        desc="embedding",
        disable=as_json or progress != "bar",
        dynamic_ncols=True,
        mininterval=1.0,
        file=sys.stderr,
    )

    expected = estimate_records(paths)  # a quick line count: the bar's total and ETA cover the whole input

    def on_progress(p: IngestProgress) -> None:
        emit({"stage": "progress", **asdict(p)})
        bar.total = p.chunks_expected  # committed chunks, extrapolated over the records still to read
        bar.n = p.chunks_embedded
        bar.set_postfix(articles=f"{p.articles_seen}/~{max(expected, p.articles_seen)}", refresh=False)
        bar.refresh()

    try:
        report = run_ingest(
            archive, read_paths(paths, source=source), on_progress=on_progress, articles_expected=expected
        )
    finally:
        bar.close()
    emit({"stage": "done"})
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(
        f"added {report.added}, duplicates {report.duplicates}, updated {report.updated}, "
        f"failed {len(report.failed)}; {report.chunks} chunks in {report.seconds:.1f}s"
    )
    shown = report.failed[:50]
    for failure in shown:
        click.echo(f"  skipped {failure.origin}: {failure.reason}")
    if len(report.failed) > len(shown):
        click.echo(f"  ... and {len(report.failed) - len(shown)} more (use --json for all)")
    if report.undated:
        origin, raw = report.undated[0]
        click.echo(
            f"  {len(report.undated)} stored without a date: published_at not a date the archive reads "
            f"(kept as extra.{DATE_RAW}), e.g. {origin}: {raw[:80]!r}"
            + (" (use --json for all)" if len(report.undated) > 1 else "")
        )


@main.command()
@click.argument("query")
@click.option("--mode", type=click.Choice(MODES), default=DEFAULT_MODE, show_default=True)
@click.option(
    "--limit",
    type=click.IntRange(1, CLAMP_CEILING),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="Results per page (above the API's page size it is clamped, as in the API).",
)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--sort", type=click.Choice(SORTS), default=DEFAULT_SORT, show_default=True)
@click.option("--source")
@click.option("--author")
@click.option("--after", type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD (inclusive)")
@click.option("--before", type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD (exclusive)")
@click.option("--collapse/--all-versions", default=DEFAULT_COLLAPSE, show_default=True, help=COLLAPSE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON result objects.")
@click.pass_context
@_fail_cleanly
def search(
    ctx: click.Context,
    query: str,
    mode: str,
    limit: int,
    offset: int,
    sort: str,
    source: str | None,
    author: str | None,
    after: datetime | None,
    before: datetime | None,
    collapse: bool,
    as_json: bool,
) -> None:
    """Search the archive (query language: words, "phrases", AND, OR, NOT, ( ), +, -, title:, word*, source:, author:, after:, before:)."""
    from archive.search import Searcher, SearchRequest

    response = Searcher(_archive(ctx)).search(
        SearchRequest(
            q=query,
            mode=mode,
            limit=limit,
            offset=offset,
            sort=sort,
            source=source,
            author=author,
            after=after.date() if after else None,
            before=before.date() if before else None,
            collapse=collapse,
        )
    )
    if as_json:
        click.echo(json.dumps({"ok": True, **response.as_dict()}, indent=2, ensure_ascii=False))
        return
    about = "at least " if response.total_relation == "gte" else ""
    unit = "stories" if collapse else "articles"
    click.echo(f"{about}{response.total} {unit} match ({mode})" if response.total else f"nothing found ({mode})")
    if response.did_you_mean:
        click.echo(f"did you mean: {response.did_you_mean}")
    for n, r in enumerate(response.results, start=offset + 1):
        when = (r.published_at or "")[:10]
        click.echo(f"{n:3}. {r.title}  [{r.source or '-'} {when}] uid={r.uid} score={r.score:.4f}")
        why = [f"contains {', '.join(r.matched_words)}"] if r.matched_words else []
        click.echo("     " + " ".join(r.passage.split())[:240])
        if why or r.meaning:
            click.echo("     why: " + " · ".join([*why, *([r.meaning] if r.meaning else [])]))
        if r.versions:
            click.echo(f"     {len(r.versions)} other version{'s' if len(r.versions) > 1 else ''}:")
        for v in r.versions:
            click.echo(f"       - {v.title}  [{v.source or '-'} {(v.published_at or '')[:16]}] uid={v.uid}")


@main.command()
@click.argument("uid")
@click.option("--limit", type=click.IntRange(1, RELATED_MAX), default=RELATED_DEFAULT, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_fail_cleanly
def related(ctx: click.Context, uid: str, limit: int, as_json: bool) -> None:
    """Articles nearest to article UID (related coverage)."""
    from archive.search import Searcher

    items = Searcher(_archive(ctx)).related(uid, limit=limit)
    if as_json:
        click.echo(
            json.dumps({"ok": True, "results": [item.as_dict() for item in items]}, indent=2, ensure_ascii=False)
        )
        return
    for n, item in enumerate(items, start=1):
        click.echo(
            f"{n:3}. {item.title}  [{(item.published_at or '')[:10]}] uid={item.uid} similarity={item.score:.3f}"
        )
        for v in item.versions:
            click.echo(f"       also: {v.title}  [{v.source or '-'} {(v.published_at or '')[:16]}] uid={v.uid}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_fail_cleanly
def stats(ctx: click.Context, as_json: bool) -> None:
    """Articles, chunks, vectors, model, index type and disk size, and any damaged index file with its repair."""
    info = _archive(ctx).stats().as_dict()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    problems = info.pop("problems")
    for key, value in info.items():
        if key == "disk_bytes":
            value = f"{value / 1e6:.1f} MB"
        click.echo(f"{key:>11}: {value}")
    for problem in problems:
        click.echo(f"{'problem':>11}: {problem}")


@main.command()
@click.argument("uid")
@click.pass_context
@_fail_cleanly
def delete(ctx: click.Context, uid: str) -> None:
    """Delete an article (by uid or numeric id) with its chunks and vectors."""
    from archive.write import delete_article

    click.echo(f"deleted {delete_article(_archive(ctx), uid)}")


@main.command()
@click.option(
    "--from-sql",
    is_flag=True,
    help="Rebuild the index from the vectors stored in SQL (no model, minutes at most) instead of re-embedding.",
)
@click.pass_context
@_fail_cleanly
def reindex(ctx: click.Context, from_sql: bool) -> None:
    """Rebuild the vector index: re-embed every chunk with the configured model, or copy SQL's vectors (--from-sql)."""
    from tqdm import tqdm

    from archive.write import reindex as run_reindex

    archive = _archive(ctx, verify=from_sql)
    if from_sql:
        click.echo(f"rebuilt the index from SQL: {run_reindex(archive, from_sql=True)} vectors")
        return
    with tqdm(total=0, unit="chunk", desc="re-embedding", file=sys.stderr) as bar:

        def on_progress(p: IngestProgress) -> None:
            bar.total, bar.n = p.chunks_total, p.chunks_embedded
            bar.refresh()

        count = run_reindex(archive, on_progress)
    click.echo(f"re-embedded {count} chunks")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 256), help="Threads per process.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes: above 1, gunicorn forks them and each loads the model after the fork (waitress serves one).",
)
@click.option(
    "--access-log", default=None, help="gunicorn's access log: a file, or - for stderr (each line names the pid)."
)
@click.pass_context
@_fail_cleanly
def serve(ctx: click.Context, host: str, port: int, threads: int, workers: int, access_log: str | None) -> None:
    """Serve the site and JSON API: waitress in one process, gunicorn with --workers N."""
    from archive.web.server import serve as run_server

    settings = ctx.obj["settings"]
    kind = f"{workers} gunicorn workers" if workers > 1 else "waitress"
    click.echo(f"serving {settings.index_dir} on http://{host}:{port}/ ({kind})", err=True)
    run_server(settings, host, port, workers=workers, threads=threads, access_log=access_log)


@main.command("settings")
def show_settings() -> None:
    """Every setting: environment variable, default and meaning."""
    for item in Settings.describe():
        click.echo(f"{item['env']:<34} {item['default']:<14} {item['help']}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_context
@_fail_cleanly
def seed(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Ingest PATHS only when the archive is empty (used by `make serve`); creates the archive."""
    archive = _archive(ctx, create=True)
    if not archive.is_empty():
        click.echo("archive not empty: seeding skipped", err=True)
        return
    ctx.invoke(ingest, paths=paths, source=None, as_json=False, progress="bar")


main.add_command(migrate)
main.add_command(duplicates)
main.add_command(threads)
main.add_command(compact)
main.add_command(saved_group)
main.add_command(batch_group)

if __name__ == "__main__":  # pragma: no cover
    main()
