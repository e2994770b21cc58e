"""One error handler: every error under /api (and every JSON request) gets the JSON envelope."""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from archive.errors import ArchiveError


def wants_json() -> bool:
    """True for API paths, ?format=json, or an Accept header preferring JSON."""
    if request.path.startswith("/api/") or request.args.get("format") == "json":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(
    message: str, status: int, param: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """The error envelope `{"ok": false, "error", "status"[, "param"]}` as JSON, or an error page."""
    if wants_json():
        body = {"ok": False, "error": message, "status": status}
        if param:
            body["param"] = param
        response = jsonify(body)
    else:
        response = current_app.make_response(render_template("error.html", message=message, status=status, param=param))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _archive_error_headers(exc: ArchiveError) -> dict[str, str]:
    if exc.status == 401:
        return {"WWW-Authenticate": 'Bearer realm="archive"'}
    retry_after = getattr(exc, "retry_after", None)
    return {"Retry-After": str(retry_after)} if retry_after is not None else {}


def register_error_handlers(app: Flask) -> None:
    """Map archive errors, HTTP errors and unexpected exceptions to clean responses."""

    @app.errorhandler(ArchiveError)
    def _archive_error(exc: ArchiveError) -> Response:
        if exc.status >= 500:
            app.logger.error("archive error: %s", exc.message)
        return error_response(exc.message, exc.status, exc.param, _archive_error_headers(exc))

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Response:
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return error_response(f"request body is larger than the limit of {limit} bytes", 413)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        keep = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after", "www-authenticate")}
        return error_response(exc.description or exc.name, exc.code or 500, headers=keep)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        return error_response("internal error", 500)
