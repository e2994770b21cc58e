"""Flask site and JSON API over the archive core (the only package that imports Flask)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask, request

from archive.config import Settings

if TYPE_CHECKING:
    from archive.core import Archive

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def create_app(settings: Settings | None = None, archive: Archive | None = None) -> Flask:
    """Build the app: open the archive once (model loaded once per process), register blueprints and hooks.

    With `archive` given, its settings are used unless `settings` is given too: then `settings` only
    decides the web behaviour (API key, rate limit, body limit), the archive keeps its own.
    """
    from archive.core import open_archive
    from archive.search import Searcher
    from archive.web.api import api
    from archive.web.errors import register_error_handlers, wants_json
    from archive.web.pages import pages
    from archive.web.ratelimit import install_rate_limit
    from archive.web.security import install_security_headers
    from archive.web.templating import install_filters

    settings = settings or (archive.settings if archive is not None else Settings.from_env())
    app = Flask(__name__, template_folder=str(PROJECT_ROOT / "templates"), static_folder=str(PROJECT_ROOT / "static"))
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False
    if archive is None:
        archive = open_archive(settings, recover=True)
        _warm_up(archive)
    app.extensions["archive"] = archive
    app.extensions["searcher"] = Searcher(archive)
    app.extensions["settings"] = settings
    app.register_blueprint(pages)
    app.register_blueprint(api, url_prefix="/api")
    register_error_handlers(app)
    install_security_headers(app)
    install_filters(app)
    install_rate_limit(app, settings.rate_limit,
                       applies=lambda: request.path.startswith("/api/") or (request.path == "/search" and wants_json()))
    return app


def _warm_up(archive: Archive) -> None:
    """Load the model and the vector index now, so the first search does not pay for it."""
    _ = archive.encoder
    _ = archive.vectors
