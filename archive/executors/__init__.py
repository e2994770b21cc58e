"""Where the write path runs the model: batches of chunk texts in, their vectors out, by name ('local', 'ray').

    base.py          Executor: the contract (encode a step, or yield its batches as they finish)
    local.py         LocalExecutor: the archive's own encoder, in this process (the default)
    ray_executor.py  RayExecutor: batches sent to Ray actors, each holding the archive's encoder (ARCHIVE_EMBED=ray)
    factory.py       EMBEDS (the names) and executor_for(archive)

The write path (`write/ingest.py`, `write/embed.py`) asks `executor_for(archive)` for its executor
and writes the vectors it returns exactly as before: which process made a vector changes nothing
about when it is committed. Importing this package imports no Ray: only ARCHIVE_EMBED=ray does.
"""

from archive.executors.base import Executor
from archive.executors.factory import EMBEDS, executor_for
from archive.executors.local import LocalExecutor

__all__ = ["EMBEDS", "Executor", "LocalExecutor", "executor_for"]
