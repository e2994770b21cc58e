"""Security headers on every response and the API key check guarding writes."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

from archive.errors import ArchiveError, Unauthorized

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def add_security_headers(response: Response) -> Response:
    """Set the security headers (an after_request hook)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def install_security_headers(app: Flask) -> None:
    """Register the header hook on the app."""
    app.after_request(add_security_headers)


def require_api_key() -> None:
    """Allow the request only with `Authorization: Bearer <ARCHIVE_API_KEY>` (403 when no key is configured)."""
    expected = current_app.extensions["settings"].api_key
    if not expected:
        raise ArchiveError(
            "writes are disabled: no API key is configured on the server (set ARCHIVE_API_KEY)", status=403
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    if not hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8")):
        raise Unauthorized("invalid API key")


def require_form_key() -> None:
    """The site's forms that write (saved searches, batch searches) carry the API key in a field `api_key`:
    the same key as the API's writes, so the site grants nothing the API refuses."""
    expected = current_app.extensions["settings"].api_key
    if not expected:
        raise ArchiveError(
            "saving is disabled: no API key is configured on the server (set ARCHIVE_API_KEY)", status=403
        )
    given = (request.form.get("api_key") or "").strip()
    if not given:
        raise Unauthorized("enter the API key to save", param="api_key")
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise Unauthorized("wrong API key", param="api_key")


def safe_href(url: str | None) -> str | None:
    """The URL if it is absolute http(s) (never javascript: or data:), else None."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None
