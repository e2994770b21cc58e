"""Example answers for the OpenAPI document (tests/test_openapi.py checks them against the schemas).

Taken from the seeded test archive (the seed article plus tests/fixtures/corpus), shortened.
"""

from __future__ import annotations

from typing import Any

_SEED_BODY = (
    "Top Iranian officials Thursday showed defiance in the face of the IAEA resolution criticizing Tehran for "
    "lack of cooperation with the UN nuclear watchdog.\nOne day after the International Atomic Energy Agency "
    "passed the resolution, Iran responded by starting to disconnect some 27 cameras and monitoring devices in "
    "and around its nuclear sites, as its officials and media continued making defying remarks."
)

# The seed article as every example shows it first.
SEED: dict[str, Any] = {
    "id": 1,
    "uid": "seed-000-9d4ed8e042963c08",
    "title": "Top Iranian officials show defiance after IAEA resolution",
    "source": None,
    "author": None,
    "url": None,
    "published_at": "2022-06-09T00:00:00+00:00",
}

SEARCH_EXAMPLE: dict[str, Any] = {
    "name": "seed",
    "summary": "GET /api/search?q=Iran+camera+disconnection&limit=1",
    "value": {
        "ok": True,
        "query": "Iran camera disconnection",
        "mode": "hybrid",
        "total": 2,
        "total_relation": "eq",
        "limit": 1,
        "offset": 0,
        "sort": "relevance",
        "collapse": True,
        "did_you_mean": None,
        "results": [
            {
                **SEED,
                "score": 0.032787,
                "passage": "One day after the International Atomic Energy Agency passed the resolution, Iran "
                "responded by starting to disconnect some 27 cameras and monitoring devices in and around its "
                "nuclear sites, as its officials and media continued making defying remarks.",
                "passage_html": "One day after the International Atomic Energy Agency passed the resolution, "
                "<mark>Iran</mark> responded by starting to <mark>disconnect</mark> some 27 <mark>cameras</mark> "
                "and monitoring devices in and around its nuclear sites, as its officials and media continued "
                "making defying remarks.",
                "highlights": [[76, 80], [106, 116], [125, 132]],
                "chunk_id": 1,
                "chunk_seq": 0,
                "passage_start": 155,
                "passage_end": 404,
                "explain": {
                    "keyword_rank": 1,
                    "semantic_rank": 1,
                    "keyword_score": 4.001225,
                    "semantic_score": 0.45112,
                    "fused_score": 0.032787,
                    "cosine": 0.45112,
                },
                "matched_words": ["Iran", "camera", "disconnection"],
                "meaning": "close in meaning",
                "versions": [],
            }
        ],
        "facets": {
            "source": [{"value": "Global Wire", "count": 1}],
            "year": [{"value": "2022", "count": 2}],
            "date": [{"value": "2022-06", "start": "2022-06-01", "end": "2022-07-01", "count": 2}],
            "topic": [{"value": "nuclear", "count": 1}],
            "place": [{"value": "iran", "count": 1}],
            "tag": [],
            "section": [],
        },
        "date_bucket": "month",
        "filters": {
            "source": None,
            "author": None,
            "after": None,
            "before": None,
            "topic": None,
            "place": None,
            "tag": None,
            "section": None,
        },
        "took_ms": 41.3,
        "next": "/api/search?q=Iran+camera+disconnection&limit=1&offset=1",
        "prev": None,
    },
}

ARTICLE_EXAMPLE: dict[str, Any] = {
    "name": "seed",
    "summary": "GET /api/articles/seed-000-9d4ed8e042963c08 (body shortened)",
    "value": {
        "ok": True,
        "article": {
            **SEED,
            "language": "en",
            "ingested_at": "2026-11-28T16:55:50.038875+00:00",
            "extra": {},
            "body": _SEED_BODY,
            "passages": [{"seq": 0, "start": 0, "end": len(_SEED_BODY)}],
        },
    },
}
