"""One error handler: every error under /api (and every JSON request) gets the JSON envelope."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from archive.errors import ArchiveError


def wants_json() -> bool:
    """True for API paths, ?format=json, or an Accept header preferring JSON."""
    if request.path.startswith("/api/") or request.args.get("format") == "json":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(message: str, status: int, param: str | None = None):
    """The error envelope as JSON or as a page."""
    if wants_json():
        body = {"ok": False, "error": message, "status": status}
        if param:
            body["param"] = param
        return jsonify(body), status
    return render_template("error.html", message=message, status=status), status


def register_error_handlers(app: Flask) -> None:
    """Map archive errors, HTTP errors and unexpected exceptions to clean responses."""

    @app.errorhandler(ArchiveError)
    def _archive_error(exc: ArchiveError):
        return error_response(exc.message, exc.status, exc.param)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return error_response(exc.description or exc.name, exc.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return error_response("internal error", 500)
