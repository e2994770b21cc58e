"""Flask site and JSON API over the archive core (the only package that imports Flask)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask, request

from archive.config import Settings

if TYPE_CHECKING:
    from archive.archive import Archive


def asset_dir(name: str) -> Path:
    """`templates` or `static`: package data inside a built wheel, else the source checkout's top-level folder.

    The folders live at the project's top level (the layout the project was designed with);
    pyproject.toml maps them into the wheel as `archive/web/templates` and `archive/web/static`.
    """
    packaged = Path(__file__).resolve().parent / name
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / name


def create_app(settings: Settings | None = None, archive: Archive | None = None) -> Flask:
    """Build the app: open the archive once (model loaded once per process), register blueprints and hooks.

    With `archive` given, its settings are used unless `settings` is given too: then `settings` only
    decides the web behaviour (API key, rate limit, body limit), the archive keeps its own.
    """
    from archive.archive import open_archive
    from archive.search import Searcher
    from archive.web.api import api
    from archive.web.batches import batches, install_batches
    from archive.web.cors import install_cors
    from archive.web.errors import register_error_handlers, wants_json
    from archive.web.pages import pages
    from archive.web.params import check_known
    from archive.web.ratelimit import install_rate_limit
    from archive.web.saved import saved
    from archive.web.security import install_security_headers
    from archive.web.templating import install_filters

    settings = settings or (archive.settings if archive is not None else Settings.from_env())
    app = Flask(__name__, template_folder=str(asset_dir("templates")), static_folder=str(asset_dir("static")))
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False
    if archive is None:
        # No recovery here: a backlog of chunks without vectors is the next write's job (it may take
        # minutes); the server answers at once from the vectors saved so far (/api/health: pending_vectors).
        archive = open_archive(settings, create=False)  # serving never creates an archive: NoArchive names the folder
        _warm_up(archive)
    app.extensions["archive"] = archive
    app.extensions["searcher"] = Searcher(archive, settings)
    app.extensions["settings"] = settings
    app.extensions["write_slot"] = threading.BoundedSemaphore(1)  # one write at a time; others get 503 at once
    app.register_blueprint(pages)
    app.register_blueprint(api, url_prefix="/api")
    app.register_blueprint(saved)
    app.register_blueprint(batches)
    install_batches(app)
    register_error_handlers(app)
    install_security_headers(app)
    install_filters(app)
    install_cors(app)  # before the rate limit: a refused preflight costs the client no token
    install_rate_limit(
        app,
        settings.rate_limit,
        applies=lambda: request.path.startswith("/api/") or (request.path == "/search" and wants_json()),
    )

    @app.before_request
    def _reject_unknown_parameters() -> None:
        if request.method != "OPTIONS" and (request.path.startswith("/api/") or wants_json()):
            check_known(request.endpoint, request.args, settings.labels)

    return app


def _warm_up(archive: Archive) -> None:
    """Load the model and the vector index now, so the first search does not pay for it."""
    _ = archive.encoder
    _ = archive.vectors
