"""The chunk ids a filtered search may return, in the form FAISS filters by.

A `Selection` is a bitmap over chunk ids (bit i set: chunk i is allowed; FAISS's
`IDSelectorBitmap`, one bit per chunk id ever given: 1.25 MB at 10M chunks), built once per
filter and extended with the chunks stored since (`store.allowed.AllowedChunks` keeps them), plus
the ids themselves while they are few (narrow filters are searched exactly among them). A search
tests a candidate's bit in the lists or graph it walks; nothing is materialised per query.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

KEEP_IDS_BELOW = 20_000  # a selection this small also keeps its id list (exact search among few ids)


def _bitmap(ids: np.ndarray, size: int, base: np.ndarray | None = None) -> np.ndarray:
    """Bytes of a little-endian bitmap of `size` bits, `base`'s bits and `ids` set."""
    bits = np.zeros(size, dtype=bool)
    if base is not None:
        old = np.unpackbits(base, bitorder="little")[:size]
        bits[: len(old)] = old
    bits[ids] = True
    return np.packbits(bits, bitorder="little")


@dataclass(frozen=True)
class Selection:
    """Allowed chunk ids: a bitmap, the count of ids set, and the sorted ids when fewer than KEEP_IDS_BELOW."""

    bitmap: np.ndarray
    count: int
    ids: np.ndarray | None = None

    @classmethod
    def of(cls, ids: np.ndarray, top: int | None = None) -> Selection:
        """The selection of `ids` (bitmap wide enough for ids up to `top`)."""
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        size = int(max(top or 0, int(ids[-1]) if len(ids) else 0)) + 1
        return cls(_bitmap(ids, size), len(ids), ids if len(ids) < KEEP_IDS_BELOW else None)

    @classmethod
    def of_bits(cls, bits: np.ndarray) -> Selection:
        """The selection of the set positions of a boolean array by chunk id (its length: the bitmap's bits)."""
        count = int(np.count_nonzero(bits))
        ids = np.flatnonzero(bits).astype(np.int64) if count < KEEP_IDS_BELOW else None
        return cls(np.packbits(bits, bitorder="little"), count, ids)

    def extended(self, ids: np.ndarray, top: int) -> Selection:
        """A new selection with `ids` added (the old one is left as it is: searches may be using it)."""
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        size = int(max(top, int(ids[-1]) if len(ids) else 0, len(self.bitmap) * 8 - 1)) + 1
        if not len(ids) and size <= len(self.bitmap) * 8:
            return self
        count = self.count + len(ids)
        kept = None
        if self.ids is not None and count < KEEP_IDS_BELOW:
            kept = np.union1d(self.ids, ids)
        return Selection(_bitmap(ids, size, self.bitmap), count, kept)

    def selector(self) -> faiss.IDSelector:
        """FAISS's test of a candidate's bit (holds a pointer into `bitmap`: keep this selection alive)."""
        return faiss.IDSelectorBitmap(self.bitmap)

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """Which of `ids` are allowed (bool array)."""
        ids = np.asarray(ids, dtype=np.int64)
        inside = (ids >= 0) & (ids < len(self.bitmap) * 8)
        out = np.zeros(len(ids), dtype=bool)
        at = ids[inside]
        out[inside] = (self.bitmap[at >> 3] >> (at & 7)) & 1 == 1
        return out

    def id_array(self) -> np.ndarray:
        """The allowed ids, ascending (read from the bitmap when not kept)."""
        if self.ids is not None:
            return self.ids
        return np.flatnonzero(np.unpackbits(self.bitmap, bitorder="little")).astype(np.int64)
