"""The executor names (ARCHIVE_EMBED) and the executor of an archive."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archive.errors import ArchiveError
from archive.executors.base import Executor
from archive.executors.local import LocalExecutor

if TYPE_CHECKING:
    from archive.archive import Archive

EMBEDS: tuple[str, ...] = ("local", "ray")


def executor_for(archive: Archive) -> Executor:
    """The executor ARCHIVE_EMBED names, making the vectors of the archive's encoder.

    'local' wraps `archive.encoder`. 'ray' is shared by every write of this process (its actors
    load the model once) and checked against the archive's encoder: same backend, weights and
    dimension, so its vectors are of the family the manifest records.
    """
    name = archive.settings.embed
    if name == "local":
        return LocalExecutor(archive.encoder)
    if name == "ray":
        from archive.executors.ray_executor import shared_ray_executor

        return shared_ray_executor(archive.settings, archive.encoder.info)
    raise ArchiveError(f"ARCHIVE_EMBED must be one of {', '.join(EMBEDS)}, got {name!r}")
