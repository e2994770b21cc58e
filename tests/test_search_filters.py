"""A narrow filter fills its page in semantic mode: filters apply before ranking (synthetic archive, real model)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from archive.documents import Article
from archive.search import Searcher, SearchRequest
from archive.write import ingest
from tests.conftest import hash_archive

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ELECTION = [
    "Voters queued for hours as the {place} election count continued into the night.",
    "The governing party claimed victory in the {place} election after results showed a narrow lead.",
    "Opposition leaders in {place} disputed the election results and demanded a recount.",
    "Turnout in the {place} parliamentary election was the highest in two decades.",
]
OTHER = [
    "A new bakery in {place} sells sourdough bread baked in a wood-fired oven.",
    "Heavy rain flooded several streets in {place} and closed the main bridge.",
    "The {place} zoo welcomed a baby giraffe, its first in ten years.",
    "A {place} startup released a budgeting app for students.",
    "Gardeners in {place} were told to water tomatoes early in the morning during the heatwave.",
    "The {place} orchestra opened its season with a symphony by Sibelius.",
]
PLACES = ["Norland", "Estavia", "Kessia", "Maravel", "Tornby", "Ulmsted", "Varno", "Quillan", "Brisk", "Ostra"]
TARGET_SOURCE = "Beta Post"
CUTOFF = datetime(2022, 1, 1, tzinfo=UTC)


def _articles() -> tuple[list[Article], set[str]]:
    rng = random.Random(7)
    items, targets = [], set()
    start = datetime(2019, 1, 1, tzinfo=UTC)
    for n in range(185):  # the crowd: other outlet, half of it about elections (unique refs: no dedupe)
        template = rng.choice(ELECTION if n % 2 == 0 else OTHER)
        items.append(
            Article(
                title=f"Alpha report {n}",
                body=template.format(place=rng.choice(PLACES)) + f" Ref {n}.",
                uid=f"alpha-{n}",
                source="Alpha News",
                published_at=start + timedelta(days=rng.randrange(1800)),
            )
        )
    for n in range(10):  # the right outlet before the cutoff, about elections: only the date filter rules them out
        items.append(
            Article(
                title=f"Beta archive {n}",
                body=ELECTION[n % 4].format(place=PLACES[n]) + f" Note {n}.",
                uid=f"beta-old-{n}",
                source=TARGET_SOURCE,
                published_at=CUTOFF - timedelta(days=30 + n),
            )
        )
    for n in range(15):  # the 15 that match the filter; about anything but elections, so they rank low globally
        uid = f"beta-new-{n}"
        targets.add(uid)
        items.append(
            Article(
                title=f"Beta story {n}",
                body=OTHER[n % 6].format(place=PLACES[n % 10]) + f" Item {n}.",
                uid=uid,
                source=TARGET_SOURCE,
                published_at=CUTOFF + timedelta(days=10 + n),
            )
        )
    return items, targets


@pytest.fixture(scope="module")
def crowd(tmp_path_factory, hash_encoder, databases):
    # Filters and widening are the point, not meaning: the hash encoder ranks by shared words.
    url = databases.new()
    archive = hash_archive(tmp_path_factory, "crowd", hash_encoder, url)
    items, targets = _articles()
    report = ingest(archive, items)
    assert report.added == 210, report.as_dict()
    yield archive, targets
    archive.close()
    databases.drop(url)


QUERY = f'election results source:"{TARGET_SOURCE}" after:2022-01-01'


@pytest.mark.parametrize(("mode", "window"), [("semantic", 10), ("hybrid", 30)])
def test_narrow_filter_returns_all_fifteen(crowd, mode, window):
    archive, targets = crowd
    # Small windows, as a 20,000-article archive would have relative to its size; semantic
    # mode must widen past its window of 10 (hybrid windows are fixed per query, never per page).
    searcher = Searcher(archive, archive.settings.with_(candidates=window))
    response = searcher.search(SearchRequest(q=QUERY, mode=mode, limit=20))
    assert {r.uid for r in response.results} == targets
    assert response.total == 15
    assert response.facets["source"] == [{"value": TARGET_SOURCE, "count": 15}]


def test_without_the_filter_the_fifteen_rank_low(crowd):
    archive, targets = crowd
    searcher = Searcher(archive, archive.settings.with_(candidates=10))
    top = {r.uid for r in searcher.search(SearchRequest(q="election results", mode="semantic", limit=20)).results}
    assert not top & targets  # so a post-filter of a global top-k would have returned nothing


def test_semantic_pages_past_the_window(crowd):
    archive, targets = crowd
    searcher = Searcher(archive, archive.settings.with_(candidates=4))
    pages = [
        r.uid
        for off in (0, 5, 10)
        for r in searcher.search(SearchRequest(q=QUERY, mode="semantic", limit=5, offset=off)).results
    ]
    assert len(pages) == 15 and set(pages) == targets
    unfiltered = searcher.search(SearchRequest(q="election results", mode="semantic", limit=50, offset=150))
    assert len(unfiltered.results) == 50  # widening reaches as deep as the page asks


def test_keyword_side_applies_filters_in_sql(crowd):
    archive, targets = crowd
    response = Searcher(archive).search(
        SearchRequest(q=f'bakery source:"{TARGET_SOURCE}" after:2022-01-01', mode="keyword")
    )
    assert {r.uid for r in response.results} <= targets and response.results
    assert all(r.source == TARGET_SOURCE and r.published_at >= "2022-01-01" for r in response.results)


def test_migration_0013_adds_the_card_index_and_match_sets_read_through_it(archive, settings):
    """An archive made before the card index gets it on opening, keeps its articles, and (on SQLite) a match
    set's counts read the index, not the article rows."""
    from alembic import command
    from sqlalchemy import inspect

    from archive.archive import open_archive
    from archive.query import parse_query
    from archive.store.cards import CARD_INDEX
    from archive.store.db import _alembic_config, current_revision, head_revision

    ingest(
        archive, [Article(title=f"Oil report {n}", body=f"Oil prices rose {n} percent.", uid=f"o{n}") for n in range(5)]
    )
    with archive.engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0007")
    assert CARD_INDEX not in {ix["name"] for ix in inspect(archive.engine).get_indexes("articles")}
    archive.close()
    reopened = open_archive(settings, encoder=archive.encoder)
    try:
        assert current_revision(reopened.engine) == head_revision()
        assert CARD_INDEX in {ix["name"] for ix in inspect(reopened.engine).get_indexes("articles")}
        assert reopened.stats().articles == 5
        with reopened.engine.connect() as conn:
            days, _ = reopened.keyword.facet_counts(conn, parse_query("oil"))
            assert sum(days.values()) == 5
            if reopened.engine.dialect.name == "sqlite":
                from sqlalchemy import event

                seen: list = []
                event.listen(conn, "before_cursor_execute", lambda c, cur, st, params, *a: seen.append((st, params)))
                reopened.keyword.facet_counts(conn, parse_query("oil"))
                statement, params = seen[-1]
                plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params))
                assert f"COVERING INDEX {CARD_INDEX}" in plan
    finally:
        reopened.close()
