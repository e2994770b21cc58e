"""The write path with the real model and a real SQLite file: ingest, dedupe, update, delete, reindex, recovery."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from archive.archive import open_archive
from archive.documents import Article, ReadFailure
from archive.encoders import NEW_ARCHIVE_ENCODER
from archive.errors import IndexMismatch, ModelError, NotFound
from archive.readers import read_paths
from archive.search import Searcher, SearchRequest
from archive.store.vectors import MANIFEST_FILE, read_manifest
from archive.write import delete_article, ingest, recover, reindex
from tests.conftest import SEED_UID, SEEDS

pytestmark = pytest.mark.integration


def consistent(archive) -> tuple[int, int]:
    """Assert SQL, the keyword index and FAISS agree; return (articles, chunks)."""
    with archive.engine.connect() as conn:
        articles = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
        chunks = conn.execute(text("SELECT count(*) FROM chunks")).scalar_one()
        fts = keyword_indexed(conn)
        orphans = conn.execute(
            text("SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.article_id = a.id)")
        ).scalar_one()
    assert fts == articles
    assert orphans == 0
    assert sorted(archive.vectors.ids().tolist()) == sorted(archive.chunk_ids().tolist())
    return articles, chunks


def keyword_indexed(conn) -> int:
    """Articles the keyword index holds (asserting PostgreSQL's statistics agree with its vectors)."""
    if conn.dialect.name == "sqlite":
        return conn.execute(text("SELECT count(*) FROM article_fts_docsize")).scalar_one()
    vectors = conn.execute(text("SELECT count(*) FROM articles WHERE search_vector IS NOT NULL")).scalar_one()
    assert conn.execute(text("SELECT docs FROM keyword_totals")).scalar_one() == vectors
    return vectors


def article(uid: str, body: str, **kw) -> Article:
    return Article(title=kw.pop("title", f"Title {uid}"), body=body, uid=uid, **kw)


def test_encoder_makes_unit_vectors_and_counts_tokens(encoder):
    vectors = encoder.encode(["Iran disconnected IAEA cameras.", "Oil prices rose."])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.max_tokens == 256
    assert encoder.count_tokens(["disconnection"])[0] >= 1
    from tokenizers import Tokenizer  # the count is the model's own word pieces, [CLS] and [SEP] left out

    pieces = Tokenizer.from_file(str(Path(encoder.info.path) / "tokenizer.json"))
    pieces.no_truncation()
    pieces.no_padding()
    texts = [
        "Iran disconnected 27 IAEA cameras.",
        "Café owners in Zürich said \u201cno\u201d.",
        "東京の株価",
        "x " * 300,
    ]
    assert encoder.count_tokens(texts) == [len(pieces.encode(t).ids) - 2 for t in texts]
    assert encoder.info.sha256 == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    # the query cache returns the same vector object for a repeated query
    assert encoder.encode_query("camera") is encoder.encode_query("camera")


def test_tampered_bundled_weights_are_refused(tmp_path, monkeypatch):
    from archive.encoders import model

    model.resolve_model(None)  # the genuine weights pass (and their hash is cached for this process)
    copy = tmp_path / "model"
    shutil.copytree(model.bundled_model_path(), copy)
    with open(copy / "model.safetensors", "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02\x03")
    monkeypatch.setattr(model, "bundled_model_path", lambda: copy)
    with pytest.raises(ModelError, match="sha256"):
        model.resolve_model(None)


def test_model_weights_are_hashed_once_per_process_per_file_version(tmp_path, monkeypatch):
    from archive.encoders import model

    folder = tmp_path / "tiny"
    folder.mkdir()
    weights = folder / "model.safetensors"
    weights.write_bytes(b"weights v1")
    calls = []
    real = model.file_sha256
    monkeypatch.setattr(model, "file_sha256", lambda path: calls.append(path) or real(path))
    first = model.resolve_model(str(folder))
    assert model.resolve_model(str(folder)) == first and len(calls) == 1  # every archive and encoder: one hash
    weights.write_bytes(b"weights v2, changed in place")
    assert model.resolve_model(str(folder))[2] == real(weights) != first[2] and len(calls) == 2


def test_ingest_seed_then_search_finds_it(archive):
    report = ingest(archive, read_paths([SEEDS]))
    assert (report.added, report.duplicates, report.failed) == (1, 0, [])
    articles, chunks = consistent(archive)
    assert articles == 1 and chunks >= 3
    seed = Searcher(archive).search(SearchRequest(q="Iran camera disconnection")).results[0]
    assert seed.uid == SEED_UID
    assert seed.title == "Top Iranian officials show defiance after IAEA resolution"
    assert seed.published_at.startswith("2022-06-09")
    assert "27 cameras" in seed.passage
    manifest = read_manifest(archive.index_dir)
    assert (manifest.count, manifest.dim, manifest.model) == (chunks, 384, "sentence-transformers/all-MiniLM-L6-v2")
    assert manifest.high_water_chunk_id == max(archive.chunk_ids())


def test_chunks_fit_the_model_and_point_into_the_body(archive):
    body = " ".join(
        f"Sentence {i} about grain exports and shipping rates in the port of Rotterdam." for i in range(120)
    )
    ingest(archive, [article("long-1", body, title="A long report on grain")])
    with archive.engine.connect() as conn:
        rows = conn.execute(text("SELECT text, char_start, char_end FROM chunks ORDER BY seq")).all()
    assert len(rows) > 5
    for chunk, start, end in rows:
        assert body[start:end] == chunk
    prefix_tokens = archive.encoder.count_tokens(["A long report on grain"])[0]
    assert max(archive.encoder.count_tokens([r[0] for r in rows])) + prefix_tokens + 2 <= archive.encoder.max_tokens


def test_same_article_twice_is_stored_once(archive):
    items = [
        article("a-1", "Copper prices fell on weak demand from smelters."),
        article("a-2", "Copper prices fell on weak demand from smelters."),
    ]  # same text, other id
    first = ingest(archive, items)
    assert (first.added, first.duplicates) == (1, 1)
    again = ingest(archive, items)
    assert (again.added, again.duplicates, again.updated) == (0, 2, 0)
    assert consistent(archive)[0] == 1


def test_same_uid_with_new_text_replaces_chunks_and_vectors(archive):
    ingest(archive, [article("story-1", "The harbour bridge will close for repairs in May.")])
    old_ids = set(archive.chunk_ids().tolist())
    report = ingest(
        archive, [article("story-1", "The harbour bridge reopened to traffic after repairs were finished early.")]
    )
    assert (report.added, report.updated) == (0, 1)
    assert consistent(archive) == (1, 1)
    assert not old_ids & set(archive.chunk_ids().tolist())
    hits = Searcher(archive).search(SearchRequest(q="reopened", mode="keyword")).results
    assert [h.uid for h in hits] == ["story-1"]
    assert Searcher(archive).search(SearchRequest(q="close May", mode="keyword")).total == 0


def test_delete_removes_article_chunks_keywords_and_vectors(archive):
    ingest(
        archive,
        [article("d-1", "Wheat futures rallied on drought fears."), article("d-2", "A museum opened a new wing.")],
    )
    assert delete_article(archive, "d-1") == "d-1"
    assert consistent(archive) == (1, 1)
    assert Searcher(archive).search(SearchRequest(q="wheat drought", mode="keyword")).total == 0
    with pytest.raises(NotFound):
        delete_article(archive, "d-1")


def test_failures_are_reported_and_the_rest_is_stored(archive):
    items = [ReadFailure("bad.json", "invalid JSON"), article("ok-1", "Gold rose."), article("empty", "   ")]
    report = ingest(archive, items)
    assert report.added == 1
    assert (report.failed[0].origin, report.failed[0].reason) == ("bad.json", "invalid JSON")
    assert "no text" in report.failed[1].reason


def test_reindex_rebuilds_vectors_from_sql(archive):
    ingest(archive, read_paths([SEEDS]))
    before = archive.vectors.vectors(archive.chunk_ids()[:2])
    (archive.index_dir / "vectors.faiss").resolve().unlink()
    assert reindex(archive) == len(archive.chunk_ids())
    consistent(archive)
    assert np.allclose(archive.vectors.vectors(archive.chunk_ids()[:2]), before, atol=1e-5)


def test_recovery_restores_missing_vectors_from_sql_and_drops_orphans(archive):
    ingest(archive, [article("r-1", "Shipping rates climbed."), article("r-2", "Rainfall eased the drought.")])
    ids = archive.chunk_ids()
    before = archive.vectors.vectors(ids[:1])
    archive.vectors.remove(ids[:1])  # a chunk without vector in the index (SQL holds it)
    archive.vectors.add([10_000], np.ones((1, 384), dtype=np.float32) / np.sqrt(384))  # a vector without chunk
    outcome = recover(archive)
    assert (outcome.restored, outcome.embedded, outcome.removed) == (1, 0, 1)
    consistent(archive)
    assert np.array_equal(archive.vectors.vectors(ids[:1]), before)  # the very vector, not a re-embedding


def test_an_index_built_by_another_model_is_refused(archive, settings, hash_encoder):
    ingest(archive, [article("m-1", "Coffee exports rose.")])
    manifest_path = archive.index_dir / MANIFEST_FILE
    data = json.loads(manifest_path.read_text())
    data["model"], data["dim"] = "some/other-model", 768
    manifest_path.write_text(json.dumps(data))
    with pytest.raises(IndexMismatch, match="archive reindex"):
        open_archive(settings, encoder=hash_encoder)


def test_stats_report_counts_and_model(model_archive):
    archive = model_archive
    ingest(archive, read_paths([SEEDS]))
    stats = archive.stats()
    assert stats.articles == 1 and stats.chunks == stats.vectors > 0
    assert stats.model == "sentence-transformers/all-MiniLM-L6-v2" and stats.index_type == "flat"
    assert stats.disk_bytes > 0
    # A new archive gets the default encoder (ARCHIVE_ENCODER=auto) and records it.
    assert stats.encoder == read_manifest(archive.index_dir).encoder == NEW_ARCHIVE_ENCODER


def test_uid_falls_back_to_url_then_content_hash(archive):
    ingest(
        archive,
        [
            Article(title="t", body="Tin prices slumped.", url="https://x.example/tin"),
            Article(title="t", body="Zinc output rose."),
        ],
    )
    with archive.engine.connect() as conn:
        uids = sorted(r[0] for r in conn.execute(text("SELECT uid FROM articles")))
    assert uids[0] == "https://x.example/tin" and uids[1].startswith("sha256:")


def test_source_option_fills_only_missing_sources(archive, tmp_path: Path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        '{"id": "s-1", "text": "Rubber prices rose.", "source": "Own Outlet"}\n'
        '{"id": "s-2", "text": "Tea auctions slowed."}\n'
    )
    ingest(archive, read_paths([feed], source="Default Outlet"))
    with archive.engine.connect() as conn:
        sources = dict(conn.execute(text("SELECT uid, source FROM articles")).all())
    assert sources == {"s-1": "Own Outlet", "s-2": "Default Outlet"}


def test_readers_feed_the_indexer_from_every_format(archive, tmp_path: Path):
    (tmp_path / "a.md").write_text("---\ntitle: Markdown story\ndate: 2021-05-01\n---\nFerry services resumed today.\n")
    (tmp_path / "b.csv").write_text(
        "id,headline,body,published_at\nc-1,CSV story,Bus fares will rise in June.,2020-01-02\n"
    )
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"_id": "j-1", "title": "JSONL story", "text": "Tram &amp; bus strike."}) + "\n"
    )
    (tmp_path / "d.html").write_text(
        "<html><head><title>HTML story</title></head><body><nav>Home | World</nav>"
        "<article><h1>HTML story</h1><p>The city library extended its opening hours "
        "to late evenings on weekdays, officials said on Monday.</p><p>Visitors "
        "welcomed the change.</p></article><footer>Copyright</footer></body></html>"
    )
    report = ingest(archive, read_paths([tmp_path]))
    assert report.added == 4, report.as_dict()
    with archive.engine.connect() as conn:
        rows = {r.uid: r for r in conn.execute(text("SELECT uid, title, body, published_at FROM articles"))}
    assert rows["j-1"].body == "Tram & bus strike."
    assert rows["c-1"].title == "CSV story" and str(rows["c-1"].published_at).startswith("2020-01-02")
    html_row = next(r for r in rows.values() if r.title == "HTML story")
    assert "library" in html_row.body and "Copyright" not in html_row.body


def test_a_repeated_id_in_one_batch_is_an_update_and_the_rest_is_stored(archive, tmp_path: Path):
    """Issue 15 item 1: the later record of an id wins, counted as an update, as if it came in a second batch."""
    feed = tmp_path / "repeat.jsonl"
    lines = [
        {"_id": "twice", "title": "First take", "text": "The ferry was delayed by fog in the morning."},
        {"_id": "twice", "title": "Second take", "text": "The ferry left on time after the fog lifted early."},
    ]
    lines += [{"_id": f"after-{i}", "text": f"Story number {i} about harbour traffic."} for i in range(100)]
    feed.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = ingest(archive, read_paths([feed]))
    assert (report.added, report.updated, report.duplicates, report.failed) == (101, 1, 0, [])
    assert consistent(archive)[0] == 101
    with archive.engine.connect() as conn:
        title, body = conn.execute(text("SELECT title, body FROM articles WHERE uid = 'twice'")).one()
    assert title == "Second take" and "left on time" in body
    # The earlier text is free again: a later record carrying it is a new article, not a duplicate.
    again = ingest(archive, [article("third", "The ferry was delayed by fog in the morning.")])
    assert (again.added, again.duplicates) == (1, 0)
    # An id repeated in a batch against a stored article: two updates, the last text stays.
    both = ingest(archive, [article("third", "Version two of it."), article("third", "Version three of it.")])
    assert (both.added, both.updated) == (0, 2)
    assert consistent(archive)[0] == 102


def test_an_id_longer_than_a_key_is_a_failure_not_an_unreachable_article(archive):
    """Issue 15 item 9: a 600-character id was stored, then unreachable by GET and DELETE."""
    report = ingest(archive, [article("k" * 600, "Unreachable words."), article("k" * 512, "Reachable words.")])
    assert report.added == 1 and len(report.failed) == 1
    assert "600 characters" in report.failed[0].reason and "512" in report.failed[0].reason
    assert delete_article(archive, "k" * 512) == "k" * 512
