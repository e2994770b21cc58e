"""Errors the archive raises; each carries the HTTP status it maps to."""

from __future__ import annotations


class ArchiveError(Exception):
    """Base class: a clear, user-facing message and an HTTP status."""

    status: int = 500

    def __init__(self, message: str, *, status: int | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if status is not None:
            self.status = status


class BadQuery(ArchiveError):
    """The request or query is malformed (HTTP 400); `param` names the culprit."""

    status = 400


class NotFound(ArchiveError):
    """An article or resource does not exist (HTTP 404)."""

    status = 404


class IndexMismatch(ArchiveError):
    """The on-disk index was built with another model, dimension or encoder."""

    status = 500


class Busy(ArchiveError):
    """Another write holds the archive (HTTP 503); `retry_after` is a hint in seconds."""

    status = 503

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelError(ArchiveError):
    """The embedding model is missing, corrupt, or does not match its pinned checksum."""

    status = 500


class ReadError(ArchiveError):
    """A source file or record could not be turned into an article."""

    status = 400


class Unauthorized(ArchiveError):
    """A write was attempted without a valid API key (HTTP 401/403)."""

    status = 401


class NoArchive(ArchiveError):
    """The data directory holds no archive (only `archive ingest` and `archive seed` create one)."""

    status = 503


class ReadOnlyArchive(ArchiveError):
    """The archive's folder or database cannot be written by this process: reads work, writes are refused."""

    status = 503


class DamagedIndex(ArchiveError):
    """A file of the vector index is damaged or missing; the message names it and the repair (`archive reindex`)."""

    status = 503


class StorageFull(ArchiveError):
    """The disk (or the database's size limit) is full: the write stopped, nothing committed before it is lost."""

    status = 503
