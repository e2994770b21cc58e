"""One result per story: near copies grouped at ingest, kept current on update and delete, folded in search."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from archive import duplicates as dup
from archive.documents import Article
from archive.search import Searcher, SearchRequest
from archive.store import duplicates as store
from archive.write import delete_article, ingest
from archive.write.stories import backfill

BONDS = (
    "The Philippines will offer its commercial bank creditors a new kind of bond as an alternative to cash "
    "payments of interest on its foreign debt, according to government documents seen by reporters. "
    "The bonds would pay no interest until they mature, and banks could sell them on the secondary market "
    "for dollars or pesos depending on their needs. Peso proceeds could be invested in selected industries "
    "under the debt conversion programme, the documents said. Finance officials declined to comment on the "
    "plan ahead of the talks in New York, where a committee of twelve banks is meeting the delegation."
)
HARVEST = (
    "Farmers in the northern provinces began the wheat harvest two weeks early after a warm and dry spring. "
    "Growers expect yields close to last year's record, although some districts reported hail damage. "
    "Grain traders said prices at the local markets eased on the news while export demand stayed firm."
)
REPO = (
    "The Federal Reserve entered the government securities market to arrange {n} billion dlrs of customer "
    "repurchase agreements, a Fed spokesman said. Dealers said federal funds were trading at {rate} pct when "
    "the Fed began its temporary and indirect supply of reserves to the banking system."
)
T0 = datetime(1987, 3, 1, 1, 30, tzinfo=UTC)


def art(uid: str, title: str, body: str, hours: float = 0.0, source: str = "Wire", **extra: Any) -> Article:
    return Article(
        title=title, body=body, uid=uid, source=source, published_at=T0 + timedelta(hours=hours), extra=extra
    )


def copies() -> list[Article]:
    """Three versions of one story (re-sent, then re-run next day lightly edited) and an unrelated one."""
    title = "MANILA TO OFFER DEBT BONDS TO BANKS"
    return [
        art("bonds-1", title, BONDS),
        art("bonds-2", title, BONDS.replace("documents said", "documents show"), 3.1),
        art("bonds-3", title, BONDS.replace("as an alternative to", "instead of").replace(" of twelve", ""), 30.1),
        art("harvest", "WHEAT HARVEST STARTS EARLY", HARVEST, 5),
    ]


def stories(archive) -> dict[str, int | None]:
    """uid -> story id (None: no copies), from SQL."""
    sql = text("SELECT a.uid, s.story_id FROM articles a JOIN article_signatures s ON s.article_id = a.id")
    with archive.engine.connect() as conn:
        return {str(uid): story for uid, story in conn.execute(sql)}


def test_detector_measures_containment_within_a_time_window():
    full = dup.signature("T", BONDS)
    assert dup.containment(full, dup.signature("T", BONDS)) == 1.0
    shortened = dup.signature("T", BONDS[: len(BONDS) // 2])  # a version cut to its first half
    assert dup.containment(full, shortened) > 0.8 > dup.jaccard(full, shortened)
    assert dup.containment(full, dup.signature("T", HARVEST)) < 0.1
    day = datetime(2024, 1, 1)

    def v(sig, when, title="T"):
        return dup.Version(sig, when, title)

    assert dup.same_story(v(full, day), v(full, day + timedelta(hours=30)), threshold=0.5, hours=36) == 1.0
    assert dup.same_story(v(full, day), v(full, day + timedelta(hours=40)), threshold=0.5, hours=36) is None
    assert dup.same_story(v(full, None), v(full, day), threshold=0.5, hours=36) == 1.0  # undated: text alone
    assert set(dup.buckets(full)) == set(dup.buckets(dup.signature("T", BONDS)))
    assert len(dup.buckets(full)) == dup.BANDS + dup.LEDE_BANDS and dup.buckets(dup.signature("", "")) == []


def test_a_version_cut_to_its_lede_is_a_version():
    """The opening re-sent with paragraphs of its own: too little shared for containment, the same lede."""
    lede = BONDS.split(". ")[0] + ". " + BONDS.split(". ")[1] + "."
    other = HARVEST + " " + REPO.format(n="two", rate="six")
    more = (
        "Bankers in Manila said the proposal would be studied closely, though several lenders have said they "
        "prefer cash. The central bank governor is expected to brief the committee on the economy next week, "
        "when officials hope to settle the terms of a rescheduling that has taken more than a year to agree."
    )
    a, b = dup.signature("BONDS", BONDS + " " + more), dup.signature("BONDS", lede + " " + other)
    assert dup.containment(a, b) < 0.5 <= dup.LEDE_JACCARD <= dup.lede_jaccard(a, b)
    assert set(dup.buckets(a)) & set(dup.buckets(b))
    day = datetime(2024, 1, 1)
    assert dup.same_story(dup.Version(a, day, "BONDS"), dup.Version(b, day, "BONDS"), threshold=0.5, hours=36)
    assert not dup.same_story(
        dup.Version(a, day, "BONDS"), dup.Version(dup.signature("H", HARVEST), day, "H"), threshold=0.5, hours=36
    )


def test_short_items_need_a_similar_headline():
    """Two banks' prime-rate notices share most of their few words; a re-sent notice shares its headline too."""
    one = "First National Bank said it raised its prime rate to 7-3/4 pct from 7-1/2 pct, effective today."
    other = "Meridian Bancorp Inc said it raised its prime rate to 7-3/4 pct from 7-1/2 pct, effective immediately."
    a, b = dup.signature("", one), dup.signature("", other)
    assert 0.3 < dup.containment(a, b) < dup.SHORT_CONTAINMENT
    day = datetime(2024, 1, 1)
    rule = {"threshold": 0.3, "hours": 36}
    assert (
        dup.same_story(
            dup.Version(a, day, "FIRST NATIONAL HIKES PRIME"), dup.Version(b, day, "MERIDIAN RAISES PRIME RATE"), **rule
        )
        is None
    )
    assert dup.same_story(
        dup.Version(a, day, "FIRST NATIONAL HIKES PRIME"), dup.Version(b, day, "FIRST NATIONAL HIKES PRIME"), **rule
    )


def test_ingest_groups_copies_update_and_delete_reform_groups(archive):
    ingest(archive, copies())
    groups = stories(archive)
    assert groups["bonds-1"] is not None
    assert groups["bonds-1"] == groups["bonds-2"] == groups["bonds-3"]
    assert groups["harvest"] is None

    # An update that no longer matches leaves the group; the other two stay together.
    ingest(archive, [art("bonds-2", "WHEAT AND BONDS", HARVEST.replace("northern", "southern"), 3.1)])
    groups = stories(archive)
    assert groups["bonds-1"] == groups["bonds-3"] is not None
    assert groups["bonds-2"] == groups["harvest"] is not None  # it now copies the harvest story (5 h apart)
    assert groups["bonds-2"] != groups["bonds-1"]

    # A delete re-forms what is left: a group of one is no group.
    delete_article(archive, "bonds-1")
    groups = stories(archive)
    assert "bonds-1" not in groups and groups["bonds-3"] is None
    delete_article(archive, "harvest")
    assert stories(archive)["bonds-2"] is None


def test_reports_of_other_days_are_not_copies(archive):
    ingest(
        archive,
        [
            art("repo-1", "FED ADDS RESERVES", REPO.format(n="two", rate="6-1/16")),
            art("repo-2", "FED ADDS RESERVES", REPO.format(n="1.5", rate="6-3/8"), 72),  # three days later
            art("repo-3", "FED ADDS RESERVES", REPO.format(n="two", rate="6-1/16").replace("Dealers", "Traders"), 2),
        ],
    )
    groups = stories(archive)
    assert groups["repo-1"] == groups["repo-3"] is not None
    assert groups["repo-2"] is None


@pytest.mark.parametrize("mode", ["keyword", "hybrid", "semantic"])
def test_search_shows_one_result_per_story_with_versions(archive, mode):
    ingest(archive, copies())
    searcher = Searcher(archive)
    q = "Philippines bonds banks debt" if mode != "keyword" else "bonds"
    folded = searcher.search(SearchRequest(q=q, mode=mode))
    hits = [r for r in folded.results if r.uid.startswith("bonds")]
    assert len(hits) == 1
    assert sorted(v.uid for v in hits[0].versions) == sorted({"bonds-1", "bonds-2", "bonds-3"} - {hits[0].uid})
    assert all(v.source == "Wire" and v.published_at for v in hits[0].versions)
    flat = searcher.search(SearchRequest(q=q, mode=mode, collapse=False))
    assert sum(r.uid.startswith("bonds") for r in flat.results) == 3
    assert all(r.versions == [] for r in flat.results)
    # Totals and facets count stories: the two folded copies are off both.
    assert folded.total == flat.total - 2
    source = {f["value"]: f["count"] for f in folded.facets["source"]}
    flat_source = {f["value"]: f["count"] for f in flat.facets["source"]}
    assert source["Wire"] == flat_source["Wire"] - 2 == folded.total
    assert sum(f["count"] for f in folded.facets["date"]) == folded.total


def test_collapsed_paging_and_export_agree(archive):
    ingest(archive, copies())
    searcher = Searcher(archive)
    pages = [searcher.search(SearchRequest(q="the", mode="keyword", limit=1, offset=n)).results for n in range(3)]
    uids = [page[0].uid for page in pages if page]
    assert len(uids) == 2 and sum(u.startswith("bonds") for u in uids) == 1  # two stories, on two pages
    total, results = searcher.export(SearchRequest(q="the", mode="keyword"), max_results=10)
    exported = list(results)
    assert total == 2 and [r.uid for r in exported] == uids
    assert len(next(r for r in exported if r.uid.startswith("bonds")).versions) == 2


def test_api_versions_and_the_off_switch(archive):
    from archive.web import create_app

    ingest(archive, copies())
    client = create_app(archive=archive).test_client()
    body = client.get("/api/search?q=bonds&mode=keyword").get_json()
    assert body["collapse"] is True and body["total"] == 1
    versions = body["results"][0]["versions"]
    assert len(versions) == 2
    assert set(versions[0]) == {"id", "uid", "title", "source", "url", "published_at"}
    off = client.get("/api/search?q=bonds&mode=keyword&collapse=false").get_json()
    assert off["collapse"] is False and off["total"] == 3
    assert all(r["versions"] == [] for r in off["results"])
    bad = client.get("/api/search?q=bonds&collapse=maybe")
    assert bad.status_code == 400 and bad.get_json()["param"] == "collapse"
    page = client.get("/search?q=bonds&mode=keyword").get_data(as_text=True)
    assert "2 other versions" in page and "1 story matches" in page
    assert "2 other versions" not in client.get("/search?q=bonds&mode=keyword&collapse=false").get_data(as_text=True)


def test_backfill_and_rebuild_form_the_same_groups(archive):
    ingest(archive, copies())
    before = stories(archive)
    with archive.engine.begin() as conn:
        store.clear(conn)
    assert stories(archive) == {}
    report = backfill(archive)
    assert report.articles == 4 and report.stories == 1 and report.grouped == 3
    assert stories(archive) == before
    assert backfill(archive).articles == 0  # nothing left unsigned
    assert backfill(archive, rebuild=True).articles == 4
    assert stories(archive) == before


def test_related_coverage_lists_each_story_once(archive):
    ingest(archive, copies())
    items = Searcher(archive).related("harvest", limit=10)
    bonds = [i for i in items if i.uid.startswith("bonds")]
    assert len(bonds) == 1 and len(bonds[0].versions) == 2
    own = Searcher(archive).related("bonds-1", limit=10)
    assert [i.uid for i in own] == ["harvest"]  # its own versions are not related coverage


def test_an_archive_made_before_0003_upgrades_without_losing_data(archive):
    from archive.store.db import current_revision, head_revision, migrate

    ingest(archive, copies())
    before = stories(archive)
    with archive.engine.begin() as conn:
        for table in ("near_copies", "duplicate_buckets", "article_signatures"):
            conn.execute(text(f"DROP TABLE {table}"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0002'"))
    assert migrate(archive.engine) and current_revision(archive.engine) == head_revision()
    with archive.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM articles")).scalar_one() == 4
    assert stories(archive) == {}
    assert Searcher(archive).search(SearchRequest(q="bonds", mode="keyword")).total == 3  # nothing grouped yet
    assert backfill(archive).articles == 4
    assert stories(archive) == before
    assert Searcher(archive).search(SearchRequest(q="bonds", mode="keyword")).total == 1


def test_buckets_of_an_archive_before_0014_move_to_a_table_without_rowid(archive):
    from archive.store.db import current_revision, head_revision, migrate

    if archive.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: the table's storage")
    ingest(archive, copies())
    before = stories(archive)

    def buckets() -> tuple[str, list]:
        with archive.engine.connect() as conn:
            sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'duplicate_buckets'")).scalar_one()
            return sql, conn.execute(text("SELECT bucket, article_id FROM duplicate_buckets ORDER BY 1, 2")).all()

    sql, rows = buckets()
    assert "WITHOUT ROWID" in sql and len(rows) > 48  # a new archive's table
    with archive.engine.begin() as conn:  # the table as 0003 made it
        conn.execute(text("CREATE TABLE old_buckets AS SELECT bucket, article_id FROM duplicate_buckets"))
        conn.execute(text("DROP TABLE duplicate_buckets"))
        conn.execute(
            text(
                "CREATE TABLE duplicate_buckets (bucket BIGINT NOT NULL, article_id INTEGER NOT NULL, "
                "PRIMARY KEY (bucket, article_id), FOREIGN KEY(article_id) REFERENCES articles (id) ON DELETE CASCADE)"
            )
        )
        conn.execute(text("INSERT INTO duplicate_buckets SELECT * FROM old_buckets"))
        conn.execute(text("DROP TABLE old_buckets"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0013'"))
    assert "WITHOUT ROWID" not in buckets()[0]
    assert migrate(archive.engine) and current_revision(archive.engine) == head_revision()
    after_sql, after_rows = buckets()
    assert "WITHOUT ROWID" in after_sql and after_rows == rows
    ingest(archive, [art("bonds-4", "Bonds rally again", "Treasury bonds rallied for a second day on Friday.")])
    assert {k: v for k, v in stories(archive).items() if k != "bonds-4"} == before
    delete_article(archive, "harvest")  # the cascade to its buckets
    with archive.engine.connect() as conn:
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM duplicate_buckets d LEFT JOIN articles a ON a.id = "
                    "d.article_id WHERE a.id IS NULL"
                )
            ).scalar_one()
            == 0
        )


def brute_force_fold(searcher, request, groups, topics=None):
    """(total, facets, uids) of folding every match of `request` with collapse=false, in its order; with
    `topics` (uid -> its topics), the topic facet of the folded list too."""
    from archive.search.results import facets

    _, results = searcher.export(replace(request, collapse=False), max_results=10_000)
    seen: set[int] = set()
    counts: dict = {}
    topic_counts: dict = {}
    uids = []
    for r in results:
        story = groups.get(r.uid)
        if story is not None and story in seen:
            continue
        if story is not None:
            seen.add(story)
        uids.append(r.uid)
        key = (r.source, datetime.fromisoformat(r.published_at.replace("Z", "+00:00")).date())
        counts[key] = counts.get(key, 0) + 1
        for topic in (topics or {}).get(r.uid, []):
            topic_counts[topic] = topic_counts.get(topic, 0) + 1
    expected = facets(counts)[0]
    if topics is not None:
        ordered = sorted(topic_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        expected["topic"] = [{"value": v, "count": n} for v, n in ordered]
    return sum(counts.values()), expected, uids


@pytest.mark.parametrize("window", ["default", "tiny"])
def test_story_counts_in_sql_equal_folding_every_match(archive, monkeypatch, window):
    from archive.search import collapse

    if window == "tiny":  # a window of offset + limit: every page that meets a folded copy widens
        monkeypatch.setattr(collapse, "WINDOW_FACTOR", 1)
        monkeypatch.setattr(collapse, "WINDOW_SLACK", 0)
    # Versions of a story may carry different labels: a story counts under the labels of its first version.
    topics = {"bonds-agency": ["debt", "money-fx"], "repo-1": ["money-fx"], "repo-2": ["interest"], "repo-3": []}
    other = [
        art("bonds-agency", "MANILA TO OFFER DEBT BONDS TO BANKS", BONDS.replace("reporters", "Agency"), 1, "Agency"),
        art("repo-1", "FED ADDS RESERVES", REPO.format(n="two", rate="6-1/16"), 50),
        art("repo-2", "FED ADDS RESERVES", REPO.format(n="two", rate="6-1/16").replace("Dealers", "Traders"), 52),
        art("repo-3", "FED ADDS RESERVES", REPO.format(n="1.5", rate="6-3/8"), 120, "Agency"),
    ]
    other = [replace(a, extra={"topics": topics[a.uid]}) for a in other]
    ingest(archive, copies() + other)
    groups = {uid: story for uid, story in stories(archive).items() if story is not None}
    days = {}
    for uid, story in groups.items():
        days.setdefault(story, set()).add(next(a.published_at.date() for a in copies() + other if a.uid == uid))
    assert any(len(d) > 1 for d in days.values())  # a story whose versions lie on several days
    searcher = Searcher(archive)
    requests = [
        SearchRequest(q=q, mode="keyword", sort=sort)
        for q in ("bonds", "the", "said OR banks", "Fed")
        for sort in ("relevance", "newest", "oldest")
    ] + [SearchRequest(q="", source=s, sort=sort) for s in ("Wire", "Agency") for sort in ("newest", "oldest")]
    for request in requests:
        total, expected_facets, uids = brute_force_fold(searcher, request, groups, topics)
        got = searcher.search(request)
        assert got.total == total, request
        assert {k: got.facets[k] for k in ("source", "year", "date", "topic")} == expected_facets, request
        paged = [searcher.search(replace(request, limit=1, offset=n)).results for n in range(total + 1)]
        assert [p[0].uid for p in paged if p] == uids, request
        exported = [r.uid for r in searcher.export(request, max_results=100)[1]]
        assert exported == uids, request


def test_stories_are_the_connected_components_named_by_their_smallest_id():
    from archive.write.stories import stories_of

    pairs = [(7, 9), (3, 9), (20, 21), (5, 40)]
    got = stories_of({3, 5, 7, 9, 11, 20, 21, 40}, pairs)
    assert got == {3: 3, 7: 3, 9: 3, 5: 5, 40: 5, 20: 20, 21: 20, 11: None}


@pytest.mark.sqlite_only("bench.duplicates opens the data directory's own SQLite database")
def test_the_duplicates_benchmark_reads_the_article_vectors_of_a_built_archive(archive, settings):
    """`bench.duplicates --index-dir` adds each labelled pair's article-vector cosine (the related-coverage rule)."""
    from bench.duplicates import Pair, add_cosines

    ingest(archive, [Article(uid="d-1", title="BONDS", body=BONDS), Article(uid="d-2", title="HARVEST", body=HARVEST)])
    archive.close()
    pairs = [Pair("d-1", "d-2", False, "test"), Pair("d-1", "d-1", True, "test"), Pair("d-1", "absent", False, "test")]
    assert add_cosines(pairs, settings.index_dir)
    assert pairs[0].cosine is not None and -1.0 <= pairs[0].cosine < 0.99
    assert pairs[1].cosine == pytest.approx(1.0)
    assert pairs[2].cosine is None


def test_signatures_are_datasketchs_default_sha1_minhash():
    """`_minhash` hashes the shingles in one pass for speed; the values must stay those of datasketch's default
    MinHash (sha1_hash32), or signatures stored by earlier builds would stop matching new ones."""
    from datasketch import MinHash

    def reference(grams: set[str], num_perm: int):
        m = MinHash(num_perm=num_perm, seed=dup.SEED)
        m.update_batch([g.encode("utf-8") for g in grams])
        return m.hashvalues.astype("uint32")

    for title, body in [
        ("Bonds", BONDS),
        ("", HARVEST),
        ("Caf\u00e9 \u00e9t\u00e9", "na\u00efve \u6f22\u5b57 \u2603 1,000.5"),
        ("", ""),
    ]:
        sig = dup.signature(title, body)
        grams = dup.shingles(title, body)
        assert (sig.values == reference(grams, dup.NUM_PERM)).all()
        assert (sig.lede == reference(dup.lede_shingles(body), dup.LEDE_PERM)).all()
        assert sig.shingles == len(grams)
    words = dup._WORD.findall(BONDS.lower())
    assert dup.lede_shingles(BONDS) == dup._grams(words[: dup.LEDE_WORDS])


def test_bucket_keys_are_each_bands_own_blake2b():
    """The keys stored by earlier builds: band `number`'s values as little-endian uint32 bytes, BLAKE2b of 8 bytes
    personalised by the number, shifted to fit a signed BIGINT; bands of the text first, then of the lede."""
    import hashlib

    def reference(sig: dup.Signature) -> list[int]:
        bands = [sig.values[b * dup.ROWS : (b + 1) * dup.ROWS] for b in range(dup.BANDS)]
        bands += [sig.lede[b * dup.LEDE_ROWS : (b + 1) * dup.LEDE_ROWS] for b in range(dup.LEDE_BANDS)]
        person = [n.to_bytes(2, "little") * 8 for n in range(len(bands))]
        digests = [
            hashlib.blake2b(v.astype("<u4").tobytes(), digest_size=8, person=p).digest()
            for v, p in zip(bands, person, strict=True)
        ]
        return [int.from_bytes(d, "little") >> 1 for d in digests]

    for title, body in [("Bonds", BONDS), ("", HARVEST), ("Short", "one two")]:
        sig = dup.signature(title, body)
        keys = dup.buckets(sig)
        assert keys == reference(sig) and len(keys) == dup.BANDS + dup.LEDE_BANDS
        assert all(0 <= k < 2**63 for k in keys)
    assert dup.buckets(dup.signature("", "")) == []


def test_articles_without_a_word_are_stored_without_buckets(archive):
    """No 5-word shingle, no LSH bucket: a step of only such articles writes no bucket row (and fails nothing)."""
    report = ingest(archive, [art("marks", "", "\u2603 \u2603 ... !!! \u2014"), art("signs", "", "+ - * / = %")])
    assert report.added == 2 and not report.failed
    with archive.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM duplicate_buckets")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM article_signatures")).scalar_one() == 2
