"""Article body -> sentence-aligned chunks that fit the model's token budget.

Pure: the token counter is passed in, so this module knows nothing about models.
WordPiece token counts are additive over whitespace-separated words, so a chunk's
count is the sum of its sentences' counts, and an over-long sentence can be split
on word boundaries without re-tokenising.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from ctypes import byref, c_char_p, c_int, c_int32, create_string_buffer

import blingfire
import numpy as np

from archive.documents import Chunk

TokenCounter = Callable[[Sequence[str]], list[int]]

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_WORD = re.compile(r"\S+")


def _sentence_offsets(paragraph: str) -> list[tuple[int, int]]:
    """blingfire's sentence spans of `paragraph` in characters: `blingfire.text_to_sentences_and_offsets`'s offsets.

    The library's wrapper maps its UTF-8 byte offsets back to characters in a Python loop over every byte (~0.2 ms
    per 1,000 characters, most of the ingest's sentence splitting); here one NumPy count of the lead bytes does it,
    and ASCII text needs no mapping. Equal to the wrapper's output (tests/test_chunking.py)."""
    data = paragraph.encode("utf-8")
    size = len(data) * 2
    words, starts, ends = create_string_buffer(size), (c_int32 * size)(), (c_int32 * size)()
    found = blingfire.blingfire.TextToSentencesWithOffsets(
        c_char_p(data), c_int(len(data)), byref(words), byref(starts), byref(ends), c_int(size)
    )
    if found == -1 or found > size:
        return []
    count = words.value.count(b"\n") + 1
    first = np.frombuffer(starts, dtype=np.int32, count=count)
    last = np.frombuffer(ends, dtype=np.int32, count=count)  # a sentence's last byte
    if len(data) == len(paragraph):  # ASCII: a byte is a character
        return list(zip(first.tolist(), (last + 1).tolist(), strict=True))
    lead = (np.frombuffer(data, dtype=np.uint8) & 0xC0) != 0x80  # the first byte of each character
    chars_through = np.cumsum(lead)  # characters that start at or before each byte
    return list(zip((chars_through[first] - 1).tolist(), chars_through[last].tolist(), strict=True))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text` (paragraph breaks always end a sentence)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in [*_PARAGRAPH_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        paragraph = text[start:end]
        if paragraph.strip():
            offsets = _sentence_offsets(paragraph)
            spans.extend((start + a, start + b) for a, b in offsets if paragraph[a:b].strip())
        if match:
            start = match.end()
    return spans


def _split_long(
    text: str, span: tuple[int, int], count_tokens: TokenCounter, max_tokens: int
) -> list[tuple[int, int, int]]:
    """Split one over-long sentence on word boundaries into pieces of <= max_tokens."""
    words = [(span[0] + m.start(), span[0] + m.end()) for m in _WORD.finditer(text[span[0] : span[1]])]
    counts = count_tokens([text[a:b] for a, b in words])
    pieces: list[tuple[int, int, int]] = []
    piece_start, piece_end, piece_tokens = words[0][0], words[0][0], 0
    for (a, b), n in zip(words, counts, strict=False):
        if n > max_tokens:
            # A single "word" longer than the budget (a URL, a table row): cut by characters.
            if piece_tokens:
                pieces.append((piece_start, piece_end, piece_tokens))
            pieces.extend(_split_chars(text, a, b, n, max_tokens))
            piece_start, piece_end, piece_tokens = b, b, 0
            continue
        if piece_tokens + n > max_tokens and piece_tokens:
            pieces.append((piece_start, piece_end, piece_tokens))
            piece_start, piece_tokens = a, 0
        piece_end = b
        piece_tokens += n
    if piece_tokens:
        pieces.append((piece_start, piece_end, piece_tokens))
    return pieces


def _split_chars(text: str, start: int, end: int, tokens: int, max_tokens: int) -> list[tuple[int, int, int]]:
    """Cut one huge whitespace-free run into slices of max_tokens characters.

    A WordPiece token covers at least one character, so a slice of n characters
    has at most n tokens: the budget holds without re-tokenising.
    """
    return [
        (a, min(end, a + max_tokens), min(max_tokens, min(end, a + max_tokens) - a))
        for a in range(start, end, max_tokens)
    ]


def chunk_text(
    text: str,
    count_tokens: TokenCounter,
    *,
    target_tokens: int = 200,
    max_tokens: int = 254,
    overlap_sentences: int = 1,
) -> list[Chunk]:
    """Pack sentences into chunks of about `target_tokens` (never above `max_tokens`).

    Consecutive chunks share up to `overlap_sentences` sentences when they fit.
    Offsets index into `text`; `chunk.text == text[chunk.char_start:chunk.char_end]`.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    target_tokens = min(target_tokens, max_tokens)
    spans = sentence_spans(text)
    if not spans:
        return []
    counts = count_tokens([text[a:b] for a, b in spans])
    units: list[tuple[int, int, int]] = []  # (start, end, tokens), each <= max_tokens
    for span, n in zip(spans, counts, strict=False):
        if n > max_tokens:
            units.extend(_split_long(text, span, count_tokens, max_tokens))
        else:
            units.append((span[0], span[1], n))

    groups: list[list[int]] = []
    current: list[int] = []
    tokens = 0
    for i, (_, _, n) in enumerate(units):
        if current and tokens + n > target_tokens:
            groups.append(current)
            carried = current[-overlap_sentences:] if overlap_sentences and len(current) > overlap_sentences else []
            carried_tokens = sum(units[j][2] for j in carried)
            if carried_tokens + n > max_tokens or carried_tokens > target_tokens // 2:
                carried, carried_tokens = [], 0
            current, tokens = list(carried), carried_tokens
        current.append(i)
        tokens += n
    if current:
        groups.append(current)

    chunks = []
    for seq, group in enumerate(groups):
        start, end = units[group[0]][0], units[group[-1]][1]
        chunks.append(Chunk(seq=seq, text=text[start:end], char_start=start, char_end=end))
    return chunks
