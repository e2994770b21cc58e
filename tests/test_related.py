"""Related coverage: nearest stories by article vector, without the article's own story, each story once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from archive.documents import Article
from archive.errors import NotFound
from archive.search import Searcher
from archive.write import ingest
from tests.conftest import SEED_UID

pytestmark = pytest.mark.integration

QUAKE = (
    "A strong earthquake struck the coastal region early on Monday, collapsing buildings and cutting power. "
    "Rescue teams searched the rubble for survivors as aftershocks shook the area. "
    "Officials said at least forty people had died and hundreds were injured."
)


def story(uid: str, title: str, body: str, day: int = 1) -> Article:
    return Article(title=title, body=body, uid=uid, source="Wire", published_at=datetime(2024, 3, day, tzinfo=UTC))


@pytest.fixture
def quake_archive(archive):
    ingest(
        archive,
        [
            story("quake", "Earthquake kills dozens on the coast", QUAKE),
            # A corrected re-send: one number changed, so not an exact duplicate (different hash) but a near one.
            story("quake-corrected", "Earthquake kills dozens on the coast", QUAKE.replace("forty", "forty-two"), 2),
            story(
                "quake-aid",
                "Aid arrives for earthquake survivors",
                "International aid reached the towns hit by last week's earthquake. Tents, water and medical teams "
                "were flown in while survivors sheltered outside their damaged homes.",
                8,
            ),
            story(
                "rates",
                "Central bank holds interest rates",
                "The central bank kept its benchmark interest rate unchanged, citing slowing inflation and a "
                "cooling labour market. Markets had expected the decision.",
                3,
            ),
            story(
                "football",
                "Home side wins the cup final",
                "The home side won the cup final two goals to one after extra time, sending the crowd into celebrations.",
                4,
            ),
        ],
    )
    return archive


def test_related_excludes_self_and_near_duplicates(quake_archive):
    items = Searcher(quake_archive).related("quake", limit=10)
    uids = [item.uid for item in items]
    assert "quake" not in uids
    assert "quake-corrected" not in uids  # a near copy (its own story), not related coverage
    assert uids[0] == "quake-aid"
    assert set(uids) == {"quake-aid", "rates", "football"}
    scores = [item.score for item in items]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    first = items[0]
    assert {"id", "uid", "title", "source", "published_at", "score"} <= set(first.as_dict())
    assert first.published_at == "2024-03-08T00:00:00+00:00"
    assert first.title == "Aid arrives for earthquake survivors"


def test_related_by_numeric_id_and_limit(quake_archive):
    searcher = Searcher(quake_archive)
    by_uid = searcher.related("quake-aid", limit=2)
    with quake_archive.engine.connect() as conn:
        numeric = conn.execute(text("SELECT id FROM articles WHERE uid = 'quake-aid'")).scalar_one()
    assert searcher.related(numeric, limit=2) == by_uid == searcher.related(str(numeric), limit=2)
    assert len(by_uid) == 2
    # The quake story is related to the aid story once, its corrected copy as its other version.
    quake = next(item for item in by_uid if item.uid in ("quake", "quake-corrected"))
    assert [v.uid for v in quake.versions] == sorted({"quake", "quake-corrected"} - {quake.uid})
    assert {item.uid for item in by_uid} - {quake.uid} <= {"rates", "football"}


def test_related_int_key_is_an_id_even_when_a_uid_is_that_number(archive):
    ingest(
        archive,
        [
            story("1", "Earthquake kills dozens on the coast", QUAKE),  # article id 1, uid "1"
            story("rates", "Central bank holds interest rates", "The central bank kept rates unchanged."),
            story("football", "Cup final", "The home side won the cup final after extra time."),
        ],
    )
    searcher = Searcher(archive)
    with archive.engine.connect() as conn:
        rates_id = conn.execute(text("SELECT id FROM articles WHERE uid = 'rates'")).scalar_one()
    by_id = [item.uid for item in searcher.related(rates_id)]
    assert "rates" not in by_id and "1" in by_id
    with archive.engine.connect() as conn:
        conn.execute(text("UPDATE articles SET uid = :u WHERE uid = 'football'"), {"u": str(rates_id)})
        conn.commit()
    # The string names the uid first (the football story now has uid == rates' id); the int names the id.
    assert "rates" in [item.uid for item in searcher.related(str(rates_id))]
    assert "rates" not in [item.uid for item in searcher.related(rates_id)]


def test_related_unknown_article_is_not_found(quake_archive):
    with pytest.raises(NotFound):
        Searcher(quake_archive).related("no-such-story")
    with pytest.raises(NotFound):
        Searcher(quake_archive).related(987654)


def test_related_on_the_seeded_archive(seeded_archive):
    items = Searcher(seeded_archive).related(SEED_UID, limit=3)
    assert items[0].uid == "wire-003"  # the other Iran/IAEA story
    assert SEED_UID not in [item.uid for item in items]
