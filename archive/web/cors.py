"""CORS for configured origins (ARCHIVE_CORS_ORIGINS; off by default): the read API from other sites' pages.

Only the JSON read endpoints (GET and HEAD under /api/, and /search) answer an allowed
`Origin` with `Access-Control-Allow-Origin` (the origin itself, with `Vary: Origin`), and
only they pass a preflight (OPTIONS with `Access-Control-Request-Method`). The write
endpoints (POST /api/articles, DELETE /api/articles/{id}) stay same-origin unless
ARCHIVE_CORS_WRITES is on as well: their requests carry the API key in `Authorization`, so
a browser always preflights them, and a preflight without CORS headers stops the request
before it is sent. Credentials (cookies) are never allowed: the API uses none.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

READ_METHODS = ("GET", "HEAD")
WRITE_METHODS = ("POST", "DELETE")
EXPOSED = "X-RateLimit-Limit, X-RateLimit-Remaining, Retry-After, Content-Disposition"
MAX_AGE = "600"


def _allowed_origin(origins: tuple[str, ...]) -> str | None:
    """The request's Origin when it is configured (or '*' is), else None."""
    origin = request.headers.get("Origin", "").strip()
    if not origin or not origins:
        return None
    return origin if ("*" in origins or origin.rstrip("/") in origins) else None


def _eligible(method: str) -> bool:
    """Whether a request with this method to this path may be answered to another origin."""
    if not (request.path.startswith("/api/") or request.path == "/search"):
        return False
    if method in READ_METHODS:
        return True
    return method in WRITE_METHODS and current_app.extensions["settings"].cors_writes


def install_cors(app: Flask) -> None:
    """Register the preflight answer and the response headers (no-ops when no origin is configured)."""
    origins = app.extensions["settings"].cors_origin_list
    if not origins:
        return

    @app.before_request
    def _preflight() -> Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        origin = _allowed_origin(origins)
        wanted = request.headers["Access-Control-Request-Method"].strip().upper()
        if origin is None or not _eligible(wanted) or not _route_allows(wanted):
            return None  # Flask's own OPTIONS answer, without CORS headers: the browser refuses
        methods = list(READ_METHODS) + [m for m in WRITE_METHODS if _eligible(m) and _route_allows(m)]
        response = current_app.response_class(status=204)
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = ", ".join(methods)
        if any(m in WRITE_METHODS for m in methods):
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Max-Age"] = MAX_AGE
        response.headers["Vary"] = "Origin"
        return response

    @app.after_request
    def _headers(response: Response) -> Response:
        origin = _allowed_origin(origins)
        if origin is not None and request.method != "OPTIONS" and _eligible(request.method):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED
            response.vary.add("Origin")
        return response


def _route_allows(method: str) -> bool:
    """Whether the URL's route answers `method` (a preflight for a method the route lacks is refused)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        adapter.match(method=method)
    except Exception:  # noqa: BLE001 - werkzeug raises NotFound / MethodNotAllowed / RequestRedirect
        return False
    return True
