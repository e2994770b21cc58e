"""Token counting by words (`encoders.base.WordCounts`): the tokenizer's own counts, each distinct word tokenised once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from archive.chunking import sentence_spans
from archive.encoders.base import WordCounts
from archive.encoders.model import resolve_model

ROOT = Path(__file__).resolve().parent.parent
REUTERS = ROOT.parent / "shared" / "data" / "reuters21578" / "corpus.jsonl"


@pytest.fixture(scope="module")
def tokenize():
    """The bundled model's tokenizer, counting word pieces without [CLS]/[SEP], one call per list."""
    from tokenizers import Tokenizer

    calls: list[int] = []
    pieces = Tokenizer.from_file(str(resolve_model(None)[1] / "tokenizer.json"))
    pieces.no_truncation()
    pieces.no_padding()

    def count(texts: list[str]) -> list[int]:
        calls.append(len(texts))
        return [len(e.ids) for e in pieces.encode_batch_fast(texts, add_special_tokens=False)]

    count.calls = calls  # type: ignore[attr-defined]
    return count


def sentences(bodies) -> list[str]:
    return [body[a:b] for body in bodies for a, b in sentence_spans(body)]


def seed_sentences() -> list[str]:
    """The sentences of the seed story and of the test fixtures (HTML, JSON, CSV, Markdown as they are)."""
    files = sorted((ROOT / "seeds").glob("*.txt")) + sorted(
        p for p in (ROOT / "tests" / "fixtures").rglob("*") if p.is_file()
    )
    return sentences(p.read_text(encoding="utf-8") for p in files)


def test_word_sums_equal_the_tokenizers_counts_of_whole_texts(tokenize):
    texts = seed_sentences()
    assert len(texts) > 50
    counts = WordCounts(tokenize)
    assert counts(texts) == tokenize(texts)
    assert counts(texts) == tokenize(texts)  # from the cache


def test_word_sums_on_reuters(tokenize):
    if not REUTERS.is_file():
        pytest.skip(f"{REUTERS} is absent (../shared/data)")
    import json

    with REUTERS.open(encoding="utf-8") as lines:
        stories = [json.loads(line) for _, line in zip(range(3000), lines, strict=False)]
    texts = sentences(s.get("text") or "" for s in stories) + [s.get("title") or "" for s in stories]
    assert WordCounts(tokenize, size=20_000)(texts) == tokenize(texts)


def test_every_character_python_splits_on(tokenize):
    """`str.split` breaks words on more characters than the tokenizer (control characters it deletes, such as
    \\x1c or NEL): a text holding one of those is counted whole, so no count is ever short."""
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    texts = (
        [f"alpha{s}beta" for s in spaces] + [f"x{s}" for s in spaces] + [f"{s}caf\u00e9 na\u0308ive" for s in spaces]
    )
    texts += ["", "   ", "zero\u200bwidth", "\ufffdx y", "n\x00ul", "東京の株価", "x " * 300]
    assert WordCounts(tokenize)(texts) == tokenize(texts)


def test_each_distinct_word_is_tokenised_once_and_a_full_cache_starts_afresh(tokenize):
    counts = WordCounts(tokenize, size=6)
    before = len(tokenize.calls)
    assert counts(["oil prices rose", "oil prices fell"]) == [3, 3]
    assert tokenize.calls[before:] == [4]  # oil, prices, rose, fell: one call
    assert counts(["prices rose"]) == [2] and len(tokenize.calls) == before + 1  # all known: no call
    assert counts(["the cameras were switched off"]) == [5]  # 5 new words on 4 known: over 6, the cache restarts
    assert tokenize.calls[-1] == 5
    counts.clear()
    assert counts(["oil"]) == [1] and tokenize.calls[-1] == 1
    blob = "QmFzZTY0" * 20  # longer than LONG_WORD: counted, not kept
    assert counts([f"oil {blob}", blob]) == tokenize([f"oil {blob}", blob])
    assert blob not in counts._counts and "oil" in counts._counts


def test_threads_counting_at_once_get_the_tokenizers_counts(tokenize):
    texts = seed_sentences()
    expected = tokenize(texts)
    counts = WordCounts(tokenize, size=500)  # small: the threads restart the cache under each other
    results: list[list[int]] = []

    def work(offset: int) -> None:
        for start in range(offset, len(texts), 37):
            results.append(counts(texts[start : start + 37]) == expected[start : start + 37])

    workers = [threading.Thread(target=work, args=(n * 37 * 3,)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert results and all(results)


def test_the_encoders_count_by_words(encoder):
    assert isinstance(encoder._counter, WordCounts)
    encoder.forget_token_counts()
    assert encoder._counter._counts == {}
