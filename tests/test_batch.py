"""Batch search: reading the uploaded queries, the background job with its progress in SQL, the CSV, the page,
the API and the CLI, an interrupted job resumed, and 50 Reuters names on 1,000 Reuters stories."""

from __future__ import annotations

import csv
import io
import itertools
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CORPUS, FIXTURES, shared_data

from archive import batch
from archive.cli import main
from archive.errors import BadQuery
from archive.readers import read_paths
from archive.search import Searcher, SearchRequest
from archive.store import batches as store
from archive.write import ingest

KEY = "batch-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
REUTERS_QUERIES = FIXTURES / "batch" / "newsroom_names.csv"


@pytest.fixture
def corpus_archive(archive):
    ingest(archive, read_paths([CORPUS]))
    return archive


def _app(archive, **settings):
    from archive.web import create_app

    app = create_app(archive.settings.with_(api_key=KEY, **settings), archive=archive)
    app.config.update(TESTING=True)
    return app


def _wait(client, job_id: int, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = client.get(f"/api/batches/{job_id}").get_json()
        if job["batch"]["status"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"batch {job_id} did not finish in {seconds} s")


def _csv_rows(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        ("query,kind\nTexaco,company\n\n# not this\nBahia,place\n", "q.csv", ["Texaco", "Bahia"]),
        ('Texaco,1\n"New York, N.Y.",2\n', "q.csv", ["Texaco", "New York, N.Y."]),  # no header: first column
        ("\ufeffcocoa prices\n  Iran   talks \n\n#comment\n", "q.txt", ["cocoa prices", "Iran talks"]),
    ],
)
def test_queries_from_a_csv_or_a_text_file(data, filename, expected):
    assert batch.parse_queries(data.encode(), filename=filename, max_queries=10) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "no queries"), (b"\xff\xfe\x00", "not UTF-8"), (b"a\nb\nc\n", "at most 2"), (b"a\x00b", "NUL")],
)
def test_bad_files_are_400s_naming_the_file(data, message):
    with pytest.raises(BadQuery, match=message) as caught:
        batch.parse_queries(data, filename="q.txt", max_queries=2)
    assert caught.value.param == "file"


def test_a_batch_reports_its_progress_and_each_query_as_a_search_would(corpus_archive):
    queries = ["oil", "Iran", "central bank", "after:yesterday", "no such word zzzz"]
    job = batch.create(corpus_archive, "five", "keyword", queries)
    seen: list[int] = []
    searcher = Searcher(corpus_archive)
    old_step, batch.STEP = batch.STEP, 2
    try:
        done = batch.run(corpus_archive, searcher, job.id, on_progress=lambda j: seen.append(j.done))
    finally:
        batch.STEP = old_step
    assert done.status == "done" and done.done == 5
    assert seen == [2, 4, 5]  # committed step by step
    rows = batch.results(corpus_archive, done)
    for row in rows:
        if row["query"].startswith("after:"):
            assert row["matches"] is None and "after" in row["error"]
            continue
        expected = searcher.search(SearchRequest(q=row["query"], mode="keyword", limit=5))
        assert row["matches"] == expected.total
        assert [h["id"] for h in row["hits"]] == [r.id for r in expected.results]


def test_api_upload_progress_csv_page_and_delete(corpus_archive):
    client = _app(corpus_archive).test_client()
    assert client.post("/api/batches", json={"queries": ["oil"]}).status_code == 401
    upload = {"file": (io.BytesIO(b"query\noil\nIran\ncocoa\n"), "names.csv"), "mode": "hybrid"}
    r = client.post("/api/batches", data=upload, headers=AUTH, content_type="multipart/form-data")
    assert r.status_code == 202, r.get_json()
    job = _wait(client, r.get_json()["batch"]["id"])
    assert job["batch"]["status"] == "done" and job["batch"]["progress"] == 1.0
    assert job["batch"]["name"] == "names.csv" and job["batch"]["mode"] == "hybrid"
    assert [r["query"] for r in job["results"]] == ["oil", "Iran", "cocoa"]
    body = client.get(job["batch"]["csv_url"]).get_data(as_text=True)
    rows = _csv_rows(body)
    assert [r["query"] for r in rows] == ["oil", "Iran", "cocoa"]
    assert [int(r["matches"]) for r in rows] == [r["matches"] for r in job["results"]]
    iran = rows[1]
    assert iran["hit_1_title"] == job["results"][1]["hits"][0]["title"]
    assert "#passage-" in iran["hit_1_link"] and iran["search_url"].endswith("/search?q=Iran")
    page = client.get(job["batch"]["page_url"]).get_data(as_text=True)
    assert page.count("<tr>") == 1 + 3 and 'href="/search?q=Iran"' in page and "Download CSV" in page
    assert client.delete(f"/api/batches/{job['batch']['id']}", headers=AUTH).status_code == 200
    assert client.get(f"/api/batches/{job['batch']['id']}").status_code == 404


def test_api_refuses_bad_batches(corpus_archive):
    client = _app(corpus_archive, batch_max_queries=3).test_client()
    for body, param in (
        ({"queries": ["a", "b", "c", "d"]}, "file"),
        ({"queries": []}, "file"),
        ({"queries": "oil"}, "body"),
        ({"queries": ["oil"], "mode": "fuzzy"}, "mode"),
        ({"queries": ["oil"], "mode": ""}, "mode"),  # as /api/search?mode= (it ran as keyword)
        ({"queries": [1]}, "queries"),
    ):
        r = client.post("/api/batches", json=body, headers=AUTH)
        assert r.status_code == 400 and r.get_json()["param"] == param, (body, r.get_json())
    assert client.post("/api/batches", json={"queries": ["oil"], "mode": " Semantic "}, headers=AUTH).status_code == 202
    # a file and typed queries together: one of them would have been dropped without a word
    both = {"file": (io.BytesIO(b"oil\n"), "q.txt"), "queries": "cocoa"}
    r = client.post("/api/batches", data=both, headers=AUTH, content_type="multipart/form-data")
    assert r.status_code == 400 and r.get_json()["param"] == "queries"
    assert client.get("/api/batches/99999999999999").status_code == 404
    assert client.post("/api/batches/99999/resume", headers=AUTH).status_code == 404


def test_site_form_runs_a_batch_with_the_key(corpus_archive):
    client = _app(corpus_archive).test_client()
    assert client.post("/batches", data={"queries": "oil"}).status_code == 401
    r = client.post("/batches", data={"queries": "oil\ncocoa", "api_key": KEY, "name": "typed"})
    assert r.status_code == 303
    job_id = int(r.headers["Location"].rsplit("/", 1)[1])
    assert _wait(client, job_id)["batch"]["done"] == 2
    assert "typed" in client.get("/batches").get_data(as_text=True)


def test_a_job_left_running_by_a_stopped_server_is_interrupted_and_resumes(corpus_archive):
    job = batch.create(corpus_archive, "left behind", "keyword", ["oil", "Iran", "cocoa"])
    searcher = Searcher(corpus_archive)
    first = batch._one(searcher, "keyword", "oil")
    with corpus_archive.engine.begin() as conn:  # one query done, then the process died
        store.save_result(conn, job.id, 0, *first)
        store.set_status(conn, job.id, "running", worker=f"{batch.socket.gethostname()[:100]}:999999999")
    client = _app(corpus_archive).test_client()  # a server start marks it
    described = client.get(f"/api/batches/{job.id}").get_json()["batch"]
    assert described["status"] == "interrupted" and described["done"] == 1
    assert "Resume" in client.get(f"/batches/{job.id}").get_data(as_text=True)
    assert client.post(f"/api/batches/{job.id}/resume", headers=AUTH).status_code == 202
    finished = _wait(client, job.id)
    assert (
        finished["batch"]["status"] == "done" and [r["matches"] is not None for r in finished["results"]] == [True] * 3
    )
    assert client.post(f"/api/batches/{job.id}/resume", headers=AUTH).status_code == 409  # done: nothing to resume


def test_cli_runs_a_file_with_a_progress_bar_and_writes_the_csv(corpus_archive, tmp_path: Path):
    env = {"ARCHIVE_INDEX_DIR": str(corpus_archive.settings.index_dir), "ARCHIVE_ENCODER": "hash"}
    if corpus_archive.settings.database_url:
        env["ARCHIVE_DATABASE_URL"] = corpus_archive.settings.database_url
    queries = tmp_path / "names.txt"
    queries.write_text("oil\nIran\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    r = CliRunner().invoke(main, ["batch", "run", str(queries), "--csv", str(out)], env=env)
    assert r.exit_code == 0, r.output
    assert "done: 2 of 2 queries" in r.output and "2/2" in r.stderr
    assert [row["query"] for row in _csv_rows(out.read_text(encoding="utf-8"))] == ["oil", "Iran"]
    listing = CliRunner().invoke(main, ["batch", "list"], env=env).output
    assert "names.txt" in listing and "done 2/2" in listing
    printed = CliRunner().invoke(main, ["batch", "csv", "1"], env=env).output
    assert printed == out.read_text(encoding="utf-8")
    resumed = CliRunner().invoke(main, ["batch", "resume", "1"], env=env)
    assert resumed.exit_code == 1 and "only an interrupted job is resumed" in resumed.stderr


def test_cli_resumes_an_interrupted_job(corpus_archive):
    env = {"ARCHIVE_INDEX_DIR": str(corpus_archive.settings.index_dir), "ARCHIVE_ENCODER": "hash"}
    if corpus_archive.settings.database_url:
        env["ARCHIVE_DATABASE_URL"] = corpus_archive.settings.database_url
    job = batch.create(corpus_archive, "cut short", "keyword", ["oil", "Iran"])
    with corpus_archive.engine.begin() as conn:
        store.set_status(conn, job.id, "running", worker=f"{batch.socket.gethostname()[:100]}:999999999")
    r = CliRunner().invoke(main, ["batch", "resume", str(job.id)], env=env)
    assert r.exit_code == 0, r.output
    assert "done: 2 of 2 queries" in r.output


@pytest.mark.integration
def test_fifty_reuters_names_on_a_thousand_reuters_stories(archive):
    corpus = shared_data("reuters21578", "corpus.jsonl")
    ingest(archive, list(itertools.islice(read_paths([corpus]), 1000)))
    client = _app(archive).test_client()
    upload = {"file": (io.BytesIO(REUTERS_QUERIES.read_bytes()), "newsroom_names.csv")}
    r = client.post("/api/batches", data=upload, headers=AUTH, content_type="multipart/form-data")
    job_id = r.get_json()["batch"]["id"]
    progress = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        described = client.get(f"/api/batches/{job_id}").get_json()["batch"]
        progress.append(described["done"])
        if described["status"] == "done":
            break
        time.sleep(0.02)
    assert described["status"] == "done" and progress == sorted(progress) and progress[-1] == 50
    rows = _csv_rows(client.get(f"/api/batches/{job_id}/csv").get_data(as_text=True))
    assert len(rows) == 50
    searcher = Searcher(archive)
    for row in rows:
        expected = searcher.search(SearchRequest(q=row["query"].lstrip("'"), mode="keyword", limit=1))
        assert int(row["matches"]) == expected.total, row["query"]
    assert sum(int(r["matches"]) > 0 for r in rows) >= 40  # the names are Reuters' own: most occur


def test_a_job_deleted_before_or_while_it_runs_ends_quietly(corpus_archive, caplog):
    """DELETE of a queued job leaves its id in the runner's queue; the runner finds nothing to run (it raised
    UnboundLocalError there, and NotFound when the delete came after the last step)."""
    searcher = Searcher(corpus_archive)
    gone = batch.create(corpus_archive, "gone", "keyword", ["oil"])
    batch.delete(corpus_archive, str(gone.id))
    assert batch.run(corpus_archive, searcher, gone.id) is None
    assert batch.list_jobs(corpus_archive) == []  # the "running" mark did not bring it back

    queries = [f"oil {i}" for i in range(batch.STEP + 3)]
    job = batch.create(corpus_archive, "deleted midway", "keyword", queries)
    deletes = iter([lambda: batch.delete(corpus_archive, str(job.id))])
    ran = batch.run(corpus_archive, searcher, job.id, on_progress=lambda _: next(deletes, lambda: None)())
    assert ran is None and batch.list_jobs(corpus_archive) == []

    runner = batch.Runner(corpus_archive, searcher)
    queued = batch.create(corpus_archive, "queued", "keyword", ["oil"])
    batch.delete(corpus_archive, str(queued.id))
    runner.submit(queued.id)
    runner.wait()
    assert "failed" not in caplog.text
    searcher.close()
