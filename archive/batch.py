"""Batch search: many queries (an uploaded CSV or text file) -> per query, its number of matches and top hits.

A job is stored in SQL with one row per query (`store.batches`); running it fills each row in,
`BATCH_TOP_HITS` hits and the search's `total`, so progress is a count in SQL and the results stay
until the job is deleted. The server runs jobs on one background thread; the CLI runs one in the
foreground. A job whose process stopped (a server restart, a killed CLI) is marked `interrupted` by
the next server start and resumes from its first query without a result (`resume`).
"""

from __future__ import annotations

import csv
import io
import logging
import os
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from archive import limits
from archive.archive import Archive, read_only
from archive.errors import ArchiveError, BadQuery, NotFound
from archive.saved import check_name
from archive.search import Searcher, SearchRequest
from archive.store import batches
from archive.store.batches import BatchJob

log = logging.getLogger(__name__)
QUERY_COLUMNS = ("query", "q", "name", "names", "queries", "search", "term")  # a CSV header naming the column
STEP = 10  # queries run between progress commits
ProgressCallback = Callable[[BatchJob], None]


def worker_name() -> str:
    """host:pid of this process (who runs a job)."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}"


def parse_queries(
    data: bytes | str, *, csv_file: bool | None = None, filename: str = "", max_queries: int
) -> list[str]:
    """The queries of an uploaded file: a CSV (its `query` column, else its first) or one query per line.

    Blank lines and lines starting with # are skipped; repeats are kept (each gets its row).
    More than `max_queries` (ARCHIVE_BATCH_MAX_QUERIES) is a 400, as is a file with none.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadQuery("the file is not UTF-8 text", param="file") from None
    if "\x00" in data:
        raise BadQuery("the file is not text (it holds NUL bytes)", param="file")
    if csv_file is None:
        csv_file = filename.lower().endswith(".csv")
    queries = _csv_queries(data) if csv_file else [line.strip() for line in data.splitlines()]
    queries = [" ".join(q.split()) for q in queries if q.strip() and not q.lstrip().startswith("#")]
    if not queries:
        raise BadQuery("no queries in the file: one per line, or a CSV with a 'query' column", param="file")
    if len(queries) > max_queries:
        raise BadQuery(
            f"{len(queries)} queries: at most {max_queries} per batch (ARCHIVE_BATCH_MAX_QUERIES)", param="file"
        )
    too_long = next((i for i, q in enumerate(queries) if len(q) > limits.MAX_QUERY_CHARS), None)
    if too_long is not None:
        raise BadQuery(f"query {too_long + 1} is longer than {limits.MAX_QUERY_CHARS:,} characters", param="file")
    return queries


def _csv_queries(text: str) -> list[str]:
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise BadQuery(f"the CSV cannot be read: {exc}", param="file") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    column = next((header.index(name) for name in QUERY_COLUMNS if name in header), None)
    if column is None:
        return [r[0] for r in rows if r]
    return [r[column] for r in rows[1:] if len(r) > column]


def check_mode(mode: str | None) -> str:
    """The batch's search mode (default: keyword, whose total counts every matching article)."""
    return limits.one_of("mode", mode, limits.MODES, limits.BATCH_DEFAULT_MODE)


def create(archive: Archive, name: str | None, mode: str | None, queries: list[str]) -> BatchJob:
    """Store a queued job; run it with `run` (the server hands it to its background thread)."""
    if archive.read_only:
        raise read_only(archive.index_dir)
    name = check_name(name or f"{len(queries)} queries")
    with archive.engine.begin() as conn:
        job_id = batches.create_job(conn, name, check_mode(mode), queries)
    return get(archive, job_id)


def get(archive: Archive, key: str | int) -> BatchJob:
    """A job by id; NotFound otherwise."""
    job_id = _job_id(key)
    with archive.engine.connect() as conn:
        job = batches.get_job(conn, job_id) if job_id is not None else None
    if job is None:
        raise NotFound(f"no batch search with id {str(key)[:40]!r}")
    return job


def _job_id(key: str | int) -> int | None:
    if isinstance(key, int):
        return key
    return int(key) if key.isascii() and key.isdigit() and len(key) < 10 else None


def list_jobs(archive: Archive) -> list[BatchJob]:
    """Every job, newest first."""
    with archive.engine.connect() as conn:
        return batches.list_jobs(conn)


def results(archive: Archive, job: BatchJob) -> list[dict[str, Any]]:
    """Per query, in order: seq, query, matches (None while pending), hits, error."""
    with archive.engine.connect() as conn:
        return batches.results(conn, job.id)


def delete(archive: Archive, key: str | int) -> BatchJob:
    """Delete a job with its results (a running one stops after its current query)."""
    if archive.read_only:
        raise read_only(archive.index_dir)
    job = get(archive, key)
    with archive.engine.begin() as conn:
        batches.delete_job(conn, job.id)
    return job


def mark_interrupted(archive: Archive) -> int:
    """Jobs left queued or running by a process that is gone (on this host) become `interrupted`."""
    if archive.read_only:
        return 0
    host = socket.gethostname()[:100]
    count = 0
    with archive.engine.begin() as conn:
        for job_id, worker in batches.active_jobs(conn):
            if worker is None or _gone(worker, host):
                batches.set_status(conn, job_id, "interrupted")
                count += 1
    return count


def _gone(worker: str, host: str) -> bool:
    who, _, pid = worker.rpartition(":")
    if who != host or not pid.isdigit():
        return False  # another machine's job: not ours to judge
    if int(pid) == os.getpid():
        return True  # this process is starting: nothing of it runs yet
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def run(
    archive: Archive, searcher: Searcher, job_id: int, on_progress: ProgressCallback | None = None
) -> BatchJob | None:
    """Run a job's pending queries in order, committing results every STEP queries; returns the finished job, or
    None when it was deleted before or while it ran (its queue entry outlives it: DELETE of a queued job)."""
    with archive.engine.begin() as conn:
        batches.set_status(conn, job_id, "running", worker=worker_name())
    try:
        job = get(archive, job_id)
        while True:
            with archive.engine.connect() as conn:
                pending = batches.pending_queries(conn, job_id, STEP)
            if not pending:
                break
            done = [_one(searcher, job.mode, q) for _, q in pending]
            with archive.engine.begin() as conn:
                if batches.get_job(conn, job_id) is None:
                    return None
                for (seq, _), (matches, hits, error) in zip(pending, done, strict=True):
                    batches.save_result(conn, job_id, seq, matches, hits, error)
            if on_progress:
                on_progress(get(archive, job_id))
        with archive.engine.begin() as conn:
            batches.set_status(conn, job_id, "done")
        return get(archive, job_id)
    except NotFound:
        return None
    except Exception as exc:
        with archive.engine.begin() as conn:
            batches.set_status(conn, job_id, "failed", error=str(exc)[:500] or type(exc).__name__)
        raise


def _one(searcher: Searcher, mode: str, q: str) -> tuple[int | None, list[dict[str, Any]], str | None]:
    """(matches, top hits, None) of one query, or (None, [], reason) when the search refuses it."""
    try:
        response = searcher.search(SearchRequest(q=q, mode=mode, limit=limits.BATCH_TOP_HITS))
    except BadQuery as exc:
        return None, [], exc.message
    hits = [
        {
            "id": r.id,
            "uid": r.uid,
            "title": r.title,
            "published_at": r.published_at,
            "score": round(r.score, 4),
            "chunk_seq": r.chunk_seq,
        }
        for r in response.results
    ]
    return response.total, hits, None


def resumable(job: BatchJob) -> bool:
    """Only an interrupted or failed job is resumed (a queued or running one is already on its way)."""
    return job.status in ("interrupted", "failed")


def requeue(archive: Archive, key: str | int) -> BatchJob:
    """An interrupted (or failed) job queued again, to resume from its first query without a result; else a 409."""
    job = get(archive, key)
    if not resumable(job):
        raise ArchiveError(f"batch search {job.id} is {job.status}: only an interrupted job is resumed", status=409)
    with archive.engine.begin() as conn:
        batches.set_status(conn, job.id, "queued")
    return get(archive, job.id)


CSV_COLUMNS = (
    "query",
    "matches",
    "search_url",
    *(f"hit_{i}_{part}" for i in range(1, limits.BATCH_TOP_HITS + 1) for part in ("title", "link")),
    "error",
)


def search_path(mode: str, q: str) -> str:
    """The root-relative link of one query's search (the site's /search page)."""
    params = {"q": q, **({"mode": mode} if mode != limits.DEFAULT_MODE else {})}
    return "/search?" + urlencode(params)


def hit_path(hit: dict[str, Any], q: str) -> str:
    """The root-relative permalink of a hit: its article page at the matched passage, the query highlighted."""
    seq = hit.get("chunk_seq")
    params = {"q": q, **({"p": seq} if seq is not None else {})}
    return f"/articles/{hit['id']}?" + urlencode(params) + (f"#passage-{seq}" if seq is not None else "")


def _cell(text: str) -> str:
    """A text cell a spreadsheet would not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def results_csv(job: BatchJob, rows: list[dict[str, Any]], base: str = "") -> str:
    """The results as CSV (CSV_COLUMNS): one row per query; links are `base` + the root-relative paths."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        cells: list[Any] = [_cell(r["query"]), r["matches"], base + search_path(job.mode, r["query"])]
        hits = r["hits"] or []
        for i in range(limits.BATCH_TOP_HITS):
            hit = hits[i] if i < len(hits) else None
            cells += [_cell(hit["title"]), base + hit_path(hit, r["query"])] if hit else ["", ""]
        writer.writerow([*cells, r["error"] or ""])
    return out.getvalue()


class Runner:
    """The server's background worker: one thread running queued jobs in turn (searches share the machine)."""

    def __init__(self, archive: Archive, searcher: Searcher) -> None:
        self.archive = archive
        self.searcher = searcher
        self.jobs: queue.Queue[int] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job_id: int) -> None:
        """Queue a job; the thread starts with the first one."""
        self.jobs.put(job_id)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="batch-search", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            job_id = self.jobs.get()
            try:
                run(self.archive, self.searcher, job_id)
            except Exception:
                log.exception("batch search %s failed", job_id)
            finally:
                self.jobs.task_done()

    def wait(self) -> None:
        """Block until every queued job has run (tests, shutdown)."""
        self.jobs.join()


__all__ = ["BatchJob", "create", "delete", "get", "list_jobs", "parse_queries", "results", "run"]
