"""Batch searches on the site and in the API: upload queries, follow the progress, read or download the results."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, redirect, render_template, request, url_for

from archive import batch
from archive.errors import BadQuery
from archive.store.batches import BatchJob
from archive.web.context import the_archive, web_settings
from archive.web.security import require_api_key, require_form_key

batches = Blueprint("batches", __name__)


def install_batches(app: Flask) -> None:
    """The app's background runner; jobs a stopped process left behind are marked interrupted."""
    archive = app.extensions["archive"]
    app.extensions["batch_runner"] = batch.Runner(archive, app.extensions["searcher"])
    batch.mark_interrupted(archive)


def runner() -> batch.Runner:
    """The process-wide batch runner."""
    return current_app.extensions["batch_runner"]


def _described(job: BatchJob) -> dict[str, Any]:
    return {
        **job.as_dict(),
        "page_url": url_for("batches.page", key=job.id),
        "csv_url": url_for("batches.api_csv", key=job.id),
    }


def _rows(job: BatchJob) -> list[dict[str, Any]]:
    return [
        {**r, "hits": r["hits"] or [], "search_url": batch.search_path(job.mode, r["query"])}
        for r in batch.results(the_archive(), job)
    ]


def _queries_from_request() -> tuple[str | None, str | None, list[str]]:
    """(name, mode, queries) from a JSON body, or a form with a file (CSV or text) or a text area."""
    limit = web_settings().batch_max_queries
    if request.mimetype == "application/json":
        try:
            body = json.loads(request.get_data(cache=False) or b"null")
        except (ValueError, RecursionError):
            raise BadQuery("request body is not valid JSON", param="body") from None
        if not isinstance(body, dict) or not isinstance(body.get("queries"), list):
            raise BadQuery('request body must be {"queries": ["...", ...], "name": ..., "mode": ...}', param="body")
        for name in ("name", "mode"):
            if body.get(name) is not None and not isinstance(body[name], str):
                raise BadQuery(f"{name} must be a string", param=name)
        if not all(isinstance(q, str) for q in body["queries"]):
            raise BadQuery("queries must be strings", param="queries")
        queries = batch.parse_queries(
            "\n".join(q.replace("\n", " ") for q in body["queries"]), csv_file=False, max_queries=limit
        )
        return body.get("name"), body.get("mode"), queries
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        if (request.form.get("queries") or "").strip():  # one of the two would be dropped without a word
            raise BadQuery("give the queries as a file or typed in the box, not both", param="queries")
        queries = batch.parse_queries(upload.read(), filename=upload.filename or "", max_queries=limit)
    else:
        queries = batch.parse_queries(request.form.get("queries") or "", csv_file=False, max_queries=limit)
    return request.form.get("name") or None, request.form.get("mode") or None, queries


def _start() -> BatchJob:
    name, mode, queries = _queries_from_request()
    if name is None and request.files.get("file") is not None:
        name = request.files["file"].filename or None
    job = batch.create(the_archive(), name, mode, queries)
    runner().submit(job.id)
    return job


# -- API --------------------------------------------------------------------------------------


@batches.get("/api/batches")
def api_list() -> Response:
    """Every batch search with its progress, newest first."""
    return jsonify({"ok": True, "batches": [_described(j) for j in batch.list_jobs(the_archive())]})


@batches.post("/api/batches")
def api_create() -> tuple[Response, int]:
    """Start a batch search (API key required): 202, then follow its progress at /api/batches/{id}."""
    require_api_key()
    job = _start()
    return jsonify({"ok": True, "batch": _described(job)}), 202


@batches.get("/api/batches/<key>")
def api_get(key: str) -> Response:
    """A batch search: its progress and, per query, the matches and top hits found so far."""
    job = batch.get(the_archive(), key)
    return jsonify({"ok": True, "batch": _described(job), "results": _rows(job)})


@batches.get("/api/batches/<key>/csv")
def api_csv(key: str) -> Response:
    """The results as CSV: one row per query (matches, its search, the top hits' titles and links)."""
    job = batch.get(the_archive(), key)
    body = batch.results_csv(job, batch.results(the_archive(), job), base=request.url_root.rstrip("/"))
    filename = f"batch-{job.id}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}", "X-Batch-Status": job.status},
    )


@batches.delete("/api/batches/<key>")
def api_delete(key: str) -> Response:
    """Delete a batch search with its results (API key required)."""
    require_api_key()
    job = batch.delete(the_archive(), key)
    return jsonify({"ok": True, "deleted": {"id": job.id, "name": job.name}})


@batches.post("/api/batches/<key>/resume")
def api_resume(key: str) -> tuple[Response, int]:
    """Resume an interrupted batch search from its first query without a result (API key required)."""
    require_api_key()
    job = batch.requeue(the_archive(), key)
    runner().submit(job.id)
    return jsonify({"ok": True, "batch": _described(job)}), 202


# -- pages ------------------------------------------------------------------------------------


@batches.get("/batches")
def index() -> str:
    """The batch searches and the upload form."""
    return render_template(
        "batches.html", jobs=batch.list_jobs(the_archive()), max_queries=web_settings().batch_max_queries
    )


@batches.post("/batches")
def create() -> Response:
    """The upload form (with the API key)."""
    require_form_key()
    job = _start()
    return redirect(url_for("batches.page", key=job.id), code=303)  # type: ignore[return-value]


@batches.get("/batches/<key>")
def page(key: str) -> str:
    """Progress (the page refreshes itself while the job runs) and one row per query linking to its search."""
    job = batch.get(the_archive(), key)
    return render_template("batch.html", job=job, rows=_rows(job), hit_link=batch.hit_path)


@batches.post("/batches/<key>/delete")
def delete(key: str) -> Response:
    """The delete button (with the API key)."""
    require_form_key()
    batch.delete(the_archive(), key)
    return redirect(url_for("batches.index"), code=303)  # type: ignore[return-value]


@batches.post("/batches/<key>/resume")
def resume(key: str) -> Response:
    """The resume button of an interrupted job (with the API key)."""
    require_form_key()
    job = batch.requeue(the_archive(), key)
    runner().submit(job.id)
    return redirect(url_for("batches.page", key=job.id), code=303)  # type: ignore[return-value]
