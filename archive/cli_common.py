"""What every command shares: one clean error line instead of a traceback, and the archive of --index-dir."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

import click

from archive.errors import ArchiveError

if TYPE_CHECKING:
    from archive.archive import Archive


def _fail_cleanly(fn: Callable) -> Callable:
    """Turn archive errors into one clear line and a non-zero exit, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ArchiveError as exc:
            raise click.ClickException(exc.message) from None
        except OSError as exc:
            raise click.ClickException(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None

    return wrapper


def _archive(ctx: click.Context, *, verify: bool = True, create: bool = False) -> Archive:
    """The archive of --index-dir, closed (its database connections too) when the command ends; only the
    commands that add articles (ingest, seed) may create it."""
    from archive.archive import open_archive

    archive = open_archive(ctx.obj["settings"], verify=verify, create=create)
    ctx.call_on_close(archive.close)
    return archive
