"""The ingest benchmark times a part's own records only (bench.ingest.at_part)."""

import itertools

from bench.ingest import at_part


def test_at_part_skips_earlier_records_before_the_clock_and_keeps_the_parts_own():
    parsed: list[int] = []

    def reader():
        for n in range(10):
            parsed.append(n)  # what a reader parses, whether it is skipped or not
            yield n

    items = at_part(itertools.islice(reader(), 6, 9))
    assert parsed == [0, 1, 2, 3, 4, 5, 6]  # the records before the part, and its first, read already
    assert list(items) == [6, 7, 8]
    assert parsed == list(range(9))


def test_at_part_of_an_empty_part_is_empty():
    assert list(at_part(iter([]))) == []
