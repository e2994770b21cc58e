"""Serving: waitress in one process, or gunicorn with several worker processes (`archive serve --workers N`).

With gunicorn the app is built in each worker after the fork (`preload_app` off), so every worker
opens its own database connections and loads the model and the vector index itself: nothing that
a fork would share badly (threads of the model runtimes, connection pools, the FAISS index) exists
in the parent. Each worker picks up the index versions a writer publishes on its own (within about
a second, `Archive.vectors`); SQL is shared, so a committed article is found by keyword at once
by every worker (docs/deployment.md).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from archive.config import Settings

# Who served a request, in the access log: the worker's pid first (several workers share one log).
ACCESS_LOG_FORMAT = '%(p)s %(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms'
GUNICORN_TIMEOUT = 120  # seconds a worker may spend on one request (a large POST embeds its articles)


def gunicorn_available() -> bool:
    """True where gunicorn can run (a POSIX system with fork, the package installed)."""
    if os.name != "posix":
        return False
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        return False
    return True


def check_servable(settings: Settings) -> None:
    """Fail before forking when the archive cannot be served (none there, a damaged index): one line, not N workers
    dying. Loads the vector index to check it, never the model."""
    from archive.archive import open_archive

    archive = open_archive(settings, create=False)
    try:
        _ = archive.vectors
    finally:
        archive.close()


def serve_waitress(settings: Settings, host: str, port: int, threads: int) -> None:
    """One process, `threads` threads (the model and the index loaded once)."""
    from waitress import serve

    from archive.web import create_app

    serve(create_app(settings), host=host, port=port, threads=threads, ident="archive")


def serve_gunicorn(
    settings: Settings, host: str, port: int, workers: int, threads: int, access_log: str | None = None
) -> None:
    """`workers` processes (gthread workers with `threads` threads each), the app built after the fork."""
    from gunicorn.app.base import BaseApplication

    check_servable(settings)

    class ArchiveServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread" if threads > 1 else "sync",
                "preload_app": False,  # the app (model, index, connections) is made in each worker
                "timeout": GUNICORN_TIMEOUT,
                "graceful_timeout": 30,
                "proc_name": "archive",
                "accesslog": access_log,
                "access_log_format": ACCESS_LOG_FORMAT,
                "errorlog": "-",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from archive.web import create_app

            return create_app(settings)

    ArchiveServer().run()


def serve(
    settings: Settings, host: str, port: int, *, workers: int, threads: int, access_log: str | None = None
) -> None:
    """gunicorn for several workers where it runs; waitress for one, or where gunicorn cannot run."""
    if workers > 1 and gunicorn_available():
        serve_gunicorn(settings, host, port, workers, threads, access_log)
        return
    if workers > 1:
        print("gunicorn cannot run here (no fork): serving with waitress in one process", file=sys.stderr)
    serve_waitress(settings, host, port, threads)
