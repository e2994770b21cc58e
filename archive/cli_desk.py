"""Command line of the desk: `archive saved ...` (saved searches) and `archive batch ...` (batch searches)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from archive.cli_common import _archive, _fail_cleanly
from archive.errors import NotFound
from archive.limits import BATCH_DEFAULT_MODE, DEFAULT_MODE, MODES


@click.group("saved")
def saved_group() -> None:
    """Saved searches: save, list, show what is new, delete."""


@saved_group.command("add")
@click.argument("name")
@click.argument("query")
@click.option("--mode", type=click.Choice(MODES), default=DEFAULT_MODE, show_default=True)
@click.option("--source")
@click.option("--author")
@click.option("--after", type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD (inclusive)")
@click.option("--before", type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD (exclusive)")
@click.pass_context
@_fail_cleanly
def saved_add(ctx: click.Context, name: str, query: str, mode: str, **filters: Any) -> None:
    """Save QUERY under NAME; new articles that match it are recorded as alerts."""
    from archive.saved import save_search
    from archive.search import SearchRequest

    dates = {k: (v.date() if v is not None else None) for k, v in filters.items() if k in ("after", "before")}
    request = SearchRequest(q=query, mode=mode, source=filters["source"], author=filters["author"], **dates)
    s = save_search(_archive(ctx), name, request)
    click.echo(f"saved search {s.id}: {s.name!r} ({s.mode}); alerts from the next article on")


@saved_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_fail_cleanly
def saved_list(ctx: click.Context, as_json: bool) -> None:
    """Every saved search with its alerts (all and new)."""
    from archive.saved import list_saved

    items = list_saved(_archive(ctx))
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in items], indent=2))
        return
    for s in items:
        click.echo(f"{s.id:>4}  {s.name}  [{s.mode}] {s.q!r}  alerts {s.alerts}, new {s.new}")
    if not items:
        click.echo("no saved searches")


@saved_group.command("show")
@click.argument("name")
@click.option("--seen", is_flag=True, help="Mark the alerts shown as seen (as viewing the page does).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_fail_cleanly
def saved_show(ctx: click.Context, name: str, seen: bool, as_json: bool) -> None:
    """The alerts of saved search NAME (or id), newest first; new ones marked."""
    from archive.saved import alerts_of, get_saved, mark_seen

    archive = _archive(ctx)
    s = get_saved(archive, name)
    alerts = alerts_of(archive, s)
    if as_json:
        click.echo(json.dumps({"saved": s.as_dict(), "alerts": [a.as_dict() for a in alerts]}, indent=2))
    else:
        click.echo(f"{s.name}: {s.alerts} alerts, {s.new} new")
        for a in alerts:
            click.echo(f"  {'NEW ' if a.new else '    '}{a.article_id:>7}  {(a.published_at or '')[:10]:10}  {a.title}")
    if seen:
        mark_seen(archive, s, alerts)


@saved_group.command("delete")
@click.argument("name")
@click.pass_context
@_fail_cleanly
def saved_delete(ctx: click.Context, name: str) -> None:
    """Delete saved search NAME (or id) with its alerts."""
    from archive.saved import delete_saved

    s = delete_saved(_archive(ctx), name)
    click.echo(f"deleted saved search {s.id}: {s.name!r}")


@click.group("batch")
def batch_group() -> None:
    """Batch searches: run a file of queries, list, export as CSV, delete."""


@batch_group.command("run")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mode", type=click.Choice(MODES), default=BATCH_DEFAULT_MODE, show_default=True)
@click.option("--name", help="Default: the file's name.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the results here.")
@click.pass_context
@_fail_cleanly
def batch_run(ctx: click.Context, path: Path, mode: str, name: str | None, csv_out: Path | None) -> None:
    """Run the queries of PATH (.csv: its `query` column, else its first; else one per line), with a progress bar."""
    from archive import batch

    archive = _archive(ctx)
    queries = batch.parse_queries(path.read_bytes(), filename=path.name, max_queries=archive.settings.batch_max_queries)
    job = _run(archive, batch.create(archive, name or path.name, mode, queries))
    if csv_out is not None:
        csv_out.write_text(_csv(archive, job), encoding="utf-8")
        click.echo(f"results written to {csv_out}")


def _run(archive: Any, job: Any) -> Any:
    """Run a job in the foreground with a progress bar on stderr; returns the finished job."""
    from tqdm import tqdm

    from archive import batch
    from archive.search import Searcher

    bar = tqdm(total=job.total, initial=job.done, unit="query", desc=f"batch {job.id}", file=sys.stderr)

    def progress(j: batch.BatchJob) -> None:
        bar.n = j.done
        bar.refresh()

    searcher = Searcher(archive)
    try:
        finished = batch.run(archive, searcher, job.id, on_progress=progress)
    finally:
        bar.close()
        searcher.close()
    if finished is None:
        raise NotFound(f"batch {job.id} was deleted while it ran")
    click.echo(f"batch {finished.id} {finished.status}: {finished.done} of {finished.total} queries")
    return finished


@batch_group.command("resume")
@click.argument("job_id")
@click.pass_context
@_fail_cleanly
def batch_resume(ctx: click.Context, job_id: str) -> None:
    """Resume interrupted batch JOB_ID in the foreground, from its first query without a result."""
    from archive import batch

    archive = _archive(ctx)
    batch.mark_interrupted(archive)  # a job whose process is gone
    job = batch.requeue(archive, job_id)
    _run(archive, job)


@batch_group.command("list")
@click.pass_context
@_fail_cleanly
def batch_list(ctx: click.Context) -> None:
    """Every batch search with its status and progress."""
    from archive import batch

    jobs = batch.list_jobs(_archive(ctx))
    for j in jobs:
        click.echo(f"{j.id:>4}  {j.name}  [{j.mode}] {j.status} {j.done}/{j.total}")
    if not jobs:
        click.echo("no batch searches")


@batch_group.command("csv")
@click.argument("job_id")
@click.pass_context
@_fail_cleanly
def batch_csv(ctx: click.Context, job_id: str) -> None:
    """Print the results of batch JOB_ID as CSV: one row per query (matches and top hits)."""
    from archive import batch

    archive = _archive(ctx)
    click.echo(_csv(archive, batch.get(archive, job_id)), nl=False)


@batch_group.command("delete")
@click.argument("job_id")
@click.pass_context
@_fail_cleanly
def batch_delete(ctx: click.Context, job_id: str) -> None:
    """Delete batch JOB_ID with its results."""
    from archive import batch

    job = batch.delete(_archive(ctx), job_id)
    click.echo(f"deleted batch {job.id}: {job.name!r}")


def _csv(archive: Any, job: Any) -> str:
    from archive import batch

    return batch.results_csv(job, batch.results(archive, job), base="")
