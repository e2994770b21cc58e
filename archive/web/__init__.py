"""Flask site and JSON API over the archive core (the only package that imports Flask)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask

from archive.config import Settings

if TYPE_CHECKING:
    from archive.core import Archive

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def create_app(settings: Settings | None = None, archive: "Archive | None" = None) -> Flask:
    """Build the app: open the archive once (model loaded once per process), register blueprints."""
    from archive.core import open_archive
    from archive.search import Searcher
    from archive.web.api import api
    from archive.web.errors import register_error_handlers
    from archive.web.pages import pages

    settings = archive.settings if archive is not None else (settings or Settings.from_env())
    app = Flask(__name__, template_folder=str(PROJECT_ROOT / "templates"), static_folder=str(PROJECT_ROOT / "static"))
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    if archive is None:
        archive = open_archive(settings, recover=True)
    app.extensions["archive"] = archive
    app.extensions["searcher"] = Searcher(archive)
    app.register_blueprint(pages)
    app.register_blueprint(api, url_prefix="/api")
    register_error_handlers(app)
    return app
