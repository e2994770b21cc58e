"""The overlapped ingest: producer errors surface, updates inside one run stay consistent, progress adds up."""

from __future__ import annotations

import sys
from itertools import pairwise

import pytest

from archive.documents import Article
from archive.write import IngestProgress, ingest, recover_if_idle
from tests.test_core import consistent

pytestmark = pytest.mark.integration


def story(uid: str, text: str) -> Article:
    return Article(title=f"Story {uid}", body=text, uid=uid, source="Test Wire")


def test_an_error_in_the_reader_surfaces_and_leaves_the_archive_consistent(archive):
    def items():
        for i in range(5):
            yield story(f"s{i}", f"Grain traders met on day {i}. Prices moved.")
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        ingest(archive, items(), batch_articles=2)
    recover_if_idle(archive)
    articles, _ = consistent(archive)
    assert articles >= 4  # the batches committed before the error are kept


def test_an_article_updated_within_one_run_keeps_only_its_new_vectors(archive):
    items = [
        story("same", "The first version of the story. It says one thing."),
        story("other", "An unrelated report about copper mines."),
        story("same", "The corrected version of the story. It says another thing entirely."),
    ]
    report = ingest(archive, items, batch_articles=1)
    assert (report.added, report.updated) == (2, 1)
    articles, chunks = consistent(archive)
    assert articles == 2 and archive.vectors.count == chunks


def test_progress_reaches_the_total_and_extrapolates_sized_inputs(archive):
    seen: list[IngestProgress] = []
    items = [story(f"p{i}", f"Report number {i} on the harbour strike. Talks resume.") for i in range(9)]
    ingest(
        archive,
        items,
        batch_articles=4,
        on_progress=lambda p: seen.append(
            IngestProgress(p.articles_seen, p.chunks_embedded, p.chunks_total, p.articles_expected)
        ),
    )
    last = seen[-1]
    assert last.articles_expected == 9 and last.articles_seen == 9
    assert last.chunks_embedded == last.chunks_total == last.chunks_expected == 9
    assert all(a.chunks_embedded <= b.chunks_embedded for a, b in pairwise(seen))


def test_an_unsized_input_with_an_estimate_extrapolates(archive):
    assert IngestProgress(articles_seen=2, chunks_total=3, articles_expected=8).chunks_expected == 12
    assert IngestProgress(articles_seen=9, chunks_total=9, articles_expected=8).chunks_expected == 9  # never below
    seen: list[IngestProgress] = []
    items = (story(f"u{i}", f"Dockers on the {i}th day of the strike. Ships wait.") for i in range(8))
    ingest(
        archive,
        items,
        batch_articles=2,
        articles_expected=8,
        on_progress=lambda p: seen.append(
            IngestProgress(p.articles_seen, p.chunks_embedded, p.chunks_total, p.articles_expected)
        ),
    )
    assert seen and all(p.articles_expected == 8 for p in seen)  # a generator, but the estimate reaches the bar
    assert seen[-1].chunks_expected == seen[-1].chunks_embedded == 8


def test_estimate_records_counts_lines_rows_and_files(tmp_path):
    from archive.readers import estimate_records

    (tmp_path / "a.jsonl").write_text('{"text": "one"}\n\n{"text": "two"}\nnot json\n')
    (tmp_path / "b.csv").write_text("title,text\nx,first\ny,second\n")
    (tmp_path / "c.txt").write_text("A story.")
    (tmp_path / "d.json").write_text('[{"text": "one"}, {"text": "two"}]')  # an array counts as one
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")  # not read, not counted
    assert estimate_records([tmp_path, tmp_path / "c.txt", tmp_path / "missing.txt", ""]) == 3 + 2 + 1 + 1


def test_the_title_prefix_is_a_setting_and_zero_embeds_chunks_alone(archive, hash_encoder):
    from archive.archive import open_archive
    from archive.write.maintain import chunk_inputs
    from archive.write.prepare import prepare

    article = story("t1", "Copper prices rose sharply on Monday. Mines in Chile reported strikes.")
    prefixed = prepare(archive, article)
    assert prefixed.embed_prefix == "Story t1"
    none = open_archive(archive.settings.with_(title_tokens=0), encoder=hash_encoder)
    bare = prepare(none, article)
    assert bare.embed_prefix == "" and [c.text for c in bare.chunks] == [c.text for c in prefixed.chunks]
    one_token = open_archive(archive.settings.with_(title_tokens=1), encoder=hash_encoder)
    assert prepare(one_token, article).embed_prefix == "Story"
    one_token.close()
    ingest(none, [article])
    assert [text for _, text in chunk_inputs(none, none.chunk_ids().tolist())] == [c.text for c in bare.chunks]
    none.close()


def test_reading_a_file_again_embeds_nothing(archive, monkeypatch):
    items = [story(f"r{i}", f"Report {i} on grain shipments. Exports rose in week {i}.") for i in range(6)]
    first = ingest(archive, items, batch_articles=2)
    assert first.added == 6
    calls: list[int] = []
    encode = archive.encoder.encode
    monkeypatch.setattr(
        archive.encoder, "encode", lambda texts, *a, **k: calls.append(len(texts)) or encode(texts, *a, **k)
    )
    again = ingest(archive, items, batch_articles=2)
    assert (again.added, again.duplicates, again.chunks) == (0, 6, 0)
    assert sum(calls) == 0
    consistent(archive)


def test_the_gil_changes_hands_faster_and_blas_runs_single_threaded_during_an_ingest_only(archive):
    """While an ingest runs, a thread waiting for the GIL (the encoder's, after each model call) gets it within
    SWITCH_INTERVAL and NumPy's BLAS runs on BLAS_THREADS; the process's own settings are back afterwards, also
    when the ingest fails."""
    from threadpoolctl import threadpool_info

    pipeline = sys.modules["archive.write.ingest"]  # the module (the package exports its function by that name)

    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    before, blas_before = sys.getswitchinterval(), blas_threads()
    during: list[tuple[float, set[int]]] = []
    items = [story(f"g{i}", f"Report {i} on the dock strike. Talks resume on day {i}.") for i in range(4)]
    report = ingest(
        archive, items, batch_articles=2, on_progress=lambda _: during.append((sys.getswitchinterval(), blas_threads()))
    )
    assert report.added == 4 and during
    assert {interval for interval, _ in during} == {min(before, pipeline.SWITCH_INTERVAL)}
    assert all(threads == {pipeline.BLAS_THREADS} for _, threads in during)
    assert sys.getswitchinterval() == before and blas_threads() == blas_before

    def failing():
        yield story("g9", "One more report. It is the last.")
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        ingest(archive, failing())
    assert sys.getswitchinterval() == before and blas_threads() == blas_before
    with pipeline.while_ingesting():  # two ingests of one process (a server): the last one out restores them
        with pipeline.while_ingesting():
            pass
        assert sys.getswitchinterval() == min(before, pipeline.SWITCH_INTERVAL)
        assert blas_threads() == {pipeline.BLAS_THREADS}
    assert sys.getswitchinterval() == before and blas_threads() == blas_before


def test_steps_double_until_the_model_is_measured_then_follow_its_speed():
    from archive.write.pace import MIN_STEP, RAMP_STEPS, Pace

    pace = Pace(batch_size=64, seconds=2.0)
    sizes = []
    for _ in range(RAMP_STEPS + 2):  # the producer cuts steps ahead of the first measurement
        sizes.append(pace.chunks)
        pace.handed()
    assert sizes == [MIN_STEP << min(i, RAMP_STEPS) for i in range(RAMP_STEPS + 2)]
    pace.measured(100, 1.0)  # 100 chunks/s: a step is two seconds of it from now on
    assert pace.chunks == 200
    pace.measured(10, 1.0)  # slower: the running rate falls, never below the floor
    assert MIN_STEP <= pace.chunks < 200
    assert Pace(batch_size=8, seconds=2.0).chunks == 8  # a batch smaller than the floor is the floor
