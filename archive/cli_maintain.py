"""Maintenance commands: `archive migrate`, `archive duplicates`, `archive threads`, `archive compact` (none needs the
model)."""

from __future__ import annotations

import json
from typing import Any

import click

from archive.cli_common import _archive, _fail_cleanly
from archive.errors import ArchiveError


@click.command()
@click.pass_context
@_fail_cleanly
def migrate(ctx: click.Context) -> None:
    """Upgrade the database schema of an existing archive (opening one for writing does it too); store in SQL the
    vectors of chunks that have none, from the index."""
    from archive.archive import no_archive, read_only
    from archive.store.db import current_revision, database_exists, head_revision, make_engine, storage_writable
    from archive.store.db import migrate as run_migrate

    settings = ctx.obj["settings"]
    if not database_exists(settings.sqlalchemy_url):
        raise no_archive(settings.index_dir)
    if not storage_writable(settings.index_dir, settings.sqlalchemy_url):
        raise read_only(settings.index_dir)
    engine = make_engine(settings.sqlalchemy_url)
    before = current_revision(engine)
    changed = run_migrate(engine)
    after = current_revision(engine)
    engine.dispose()
    click.echo(
        f"schema upgraded from {before or 'none'} to {after}" if changed else f"schema is current ({head_revision()})"
    )
    from archive.write import backfill_vectors
    from archive.write.stories import backfill

    try:
        stored = backfill_vectors(_archive(ctx))
    except ArchiveError as exc:  # e.g. a damaged index: the schema is upgraded all the same
        click.echo(f"vectors not copied from the index: {exc.message}")
    else:
        if stored:
            click.echo(f"stored {stored} vectors from the index in SQL (no model)")
    report = backfill(_archive(ctx, verify=False))  # near copies of articles stored before they were detected
    if report.articles:
        click.echo(f"near copies: {report.articles} articles signed in {report.seconds:.1f}s; {_stories(report)}")
    from archive.write.threads import backfill as thread_backfill

    done = thread_backfill(_archive(ctx, verify=False))  # story threads of articles stored before them
    if done.articles:
        click.echo(f"story threads: {done.articles} articles threaded in {done.seconds:.1f}s; {_threads(done)}")


def _threads(report: Any) -> str:
    return f"{report.threads} threads, {report.shared} of more than one article ({report.threaded} articles threaded)"


def _stories(report: Any) -> str:
    return f"{report.stories} stories with more than one version ({report.grouped} articles)"


@click.command()
@click.option("--rebuild", is_flag=True, help="Forget every signature and group first (after changing their settings).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_fail_cleanly
def duplicates(ctx: click.Context, rebuild: bool, as_json: bool) -> None:
    """Detect near copies (one result per story) for articles not yet signed; --rebuild redoes all (no model needed)."""
    from archive.write.stories import backfill

    report = backfill(_archive(ctx, verify=False), rebuild=rebuild)
    if as_json:
        click.echo(json.dumps({"ok": True, **report.as_dict()}))
        return
    click.echo(f"{report.articles} articles signed in {report.seconds:.1f}s; {_stories(report)}")


@click.command()
@click.option("--rebuild", is_flag=True, help="Forget every thread first (after changing their settings).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_fail_cleanly
def threads(ctx: click.Context, rebuild: bool, as_json: bool) -> None:
    """Thread the articles not yet in a story thread; --rebuild redoes all (from the stored vectors, no model)."""
    from archive.write.threads import backfill

    report = backfill(_archive(ctx, verify=False), rebuild=rebuild)
    if as_json:
        click.echo(json.dumps({"ok": True, **report.as_dict()}))
        return
    click.echo(f"{report.articles} articles threaded in {report.seconds:.1f}s; {_threads(report)}")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_fail_cleanly
def compact(ctx: click.Context, as_json: bool) -> None:
    """Merge the keyword index's pieces into one (after a bulk load: fewer probes per word and query); ingests of
    ARCHIVE_COMPACT_AFTER articles or more do it at their end."""
    from archive.write.maintain import compact as run_compact

    pieces, seconds = run_compact(_archive(ctx, verify=False))
    if as_json:
        click.echo(json.dumps({"ok": True, "pieces": pieces, "seconds": round(seconds, 3)}))
        return
    click.echo(f"keyword index: {pieces} pieces merged in {seconds:.1f}s" if pieces > 1 else "keyword index: one piece")
