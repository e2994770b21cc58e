"""Batch searches: the job and its queries (one row per query, its result filled in when it has run).

A job's progress is its count of queries with a result; a query without one is still to run, so a
job interrupted by a stopped server resumes where it stopped (`archive.batch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)

from archive.store.models import Base

STATUSES = ("queued", "running", "done", "interrupted", "failed")
ACTIVE = ("queued", "running")

batch_jobs = Table(
    "batch_jobs",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("total", Integer, nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("finished_at", DateTime()),
    Column("worker", String(128)),  # host:pid of the process running it
    Column("error", Text),
    sqlite_autoincrement=True,
)

batch_queries = Table(
    "batch_queries",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, ForeignKey("batch_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("query", Text, nullable=False),
    Column("matches", Integer),  # NULL until the query has run
    Column("hits", JSON),  # the top hits: [{id, uid, title, published_at, score}]
    Column("error", Text),  # a query the search refused (e.g. a malformed date filter)
    Index("ix_batch_queries_job_seq", "job_id", "seq", unique=True),
    sqlite_autoincrement=True,
)


@dataclass(frozen=True)
class BatchJob:
    """One batch job with its progress."""

    id: int
    name: str
    mode: str
    status: str
    total: int
    done: int
    created_at: datetime
    finished_at: datetime | None
    worker: str | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""

        def iso(d: datetime | None) -> str | None:
            return d.replace(tzinfo=UTC).isoformat() if d else None

        return {
            "id": self.id,
            "name": self.name,
            "mode": self.mode,
            "status": self.status,
            "total": self.total,
            "done": self.done,
            "progress": round(self.done / self.total, 4) if self.total else 1.0,
            "created_at": iso(self.created_at),
            "finished_at": iso(self.finished_at),
            "error": self.error,
        }


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _jobs() -> Any:
    done = (
        select(batch_queries.c.job_id, func.count().label("done"))
        .where(batch_queries.c.matches.is_not(None) | batch_queries.c.error.is_not(None))
        .group_by(batch_queries.c.job_id)
        .subquery()
    )
    return select(batch_jobs, func.coalesce(done.c.done, 0).label("done")).outerjoin(
        done, done.c.job_id == batch_jobs.c.id
    )


def _as_job(row: Any) -> BatchJob:
    m = row._mapping
    return BatchJob(**{k: m[k] for k in BatchJob.__dataclass_fields__})


def create_job(conn: Connection, name: str, mode: str, queries: Sequence[str]) -> int:
    """A queued job with its queries. Caller commits."""
    job_id = int(
        conn.execute(
            insert(batch_jobs).values(name=name, mode=mode, status="queued", total=len(queries), created_at=_now())
        ).inserted_primary_key[0]
    )
    if queries:
        conn.execute(insert(batch_queries), [{"job_id": job_id, "seq": i, "query": q} for i, q in enumerate(queries)])
    return job_id


def list_jobs(conn: Connection) -> list[BatchJob]:
    """Every job, newest first."""
    return [_as_job(r) for r in conn.execute(_jobs().order_by(batch_jobs.c.id.desc()))]


def get_job(conn: Connection, job_id: int) -> BatchJob | None:
    """One job, or None."""
    row = conn.execute(_jobs().where(batch_jobs.c.id == job_id)).first()
    return _as_job(row) if row is not None else None


def set_status(
    conn: Connection, job_id: int, status: str, *, worker: str | None = None, error: str | None = None
) -> None:
    """Move a job to `status` (finished_at set for done and failed). Caller commits."""
    values: dict[str, Any] = {"status": status, "worker": worker, "error": error}
    if status in ("done", "failed"):
        values["finished_at"] = _now()
    conn.execute(update(batch_jobs).where(batch_jobs.c.id == job_id).values(**values))


def active_jobs(conn: Connection) -> list[tuple[int, str | None]]:
    """(id, worker) of the jobs queued or running."""
    stmt = select(batch_jobs.c.id, batch_jobs.c.worker).where(batch_jobs.c.status.in_(ACTIVE))
    return [(int(i), w) for i, w in conn.execute(stmt)]


def pending_queries(conn: Connection, job_id: int, limit: int) -> list[tuple[int, str]]:
    """(seq, query) of the next `limit` queries still to run, in order."""
    stmt = (
        select(batch_queries.c.seq, batch_queries.c.query)
        .where(batch_queries.c.job_id == job_id, batch_queries.c.matches.is_(None), batch_queries.c.error.is_(None))
        .order_by(batch_queries.c.seq)
        .limit(limit)
    )
    return [(int(s), q) for s, q in conn.execute(stmt)]


def save_result(
    conn: Connection, job_id: int, seq: int, matches: int | None, hits: list[dict[str, Any]], error: str | None = None
) -> None:
    """The result of one query (or the reason it was refused). Caller commits."""
    conn.execute(
        update(batch_queries)
        .where(batch_queries.c.job_id == job_id, batch_queries.c.seq == seq)
        .values(matches=matches, hits=hits, error=error)
    )


def results(conn: Connection, job_id: int) -> list[dict[str, Any]]:
    """Every query of a job in order: seq, query, matches (None while pending), hits, error."""
    stmt = (
        select(
            batch_queries.c.seq,
            batch_queries.c.query,
            batch_queries.c.matches,
            batch_queries.c.hits,
            batch_queries.c.error,
        )
        .where(batch_queries.c.job_id == job_id)
        .order_by(batch_queries.c.seq)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)]


def delete_job(conn: Connection, job_id: int) -> bool:
    """Delete a job with its queries; False when there was none. Caller commits."""
    conn.execute(delete(batch_queries).where(batch_queries.c.job_id == job_id))
    return conn.execute(delete(batch_jobs).where(batch_jobs.c.id == job_id)).rowcount > 0
