"""What every encoder shares: its manifest identity, token counting, batching by length, the query cache."""

from __future__ import annotations

import re
import threading
from collections import ChainMap, OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TokenCounter = Callable[[list[str]], list[int]]


@dataclass(frozen=True)
class ModelInfo:
    """What identifies an encoder in the index manifest."""

    name: str
    path: str
    sha256: str | None
    dim: int
    max_tokens: int
    backend: str


# A model call's fixed cost in characters of padded input (the batch is padded to its longest text): ~5 ms on
# this 2-core machine, OpenVINO and onnxruntime alike, what ~300 characters (~60 tokens) of one text cost.
CALL_CHARS = 300


def length_order(texts: Sequence[str]) -> np.ndarray:
    """Indices of texts, longest first: batches of similar length waste little padding."""
    # Same key as sentence-transformers (characters), so our batches match its internal ones.
    return np.argsort([-len(t) for t in texts], kind="stable")


def length_batches(texts: Sequence[str], size: int) -> list[np.ndarray]:
    """Model batches of row indices, longest first, at most `size` each, cut where the padding they save costs more
    than a model call (`CALL_CHARS`): the partition of the length order with the least padded input plus calls.

    Fixed batches of `size` pad each text to its batch's longest: a pool of a few hundred chunks pays ~10% for it
    (the lengths fall off steeply at the pool's short end). Dynamic programming over the sorted lengths, one
    vectorised step per text; a run of equal lengths still fills whole batches of `size`."""
    order = length_order(texts)
    n, size = len(order), max(size, 1)
    if n <= 1:
        return [order] if n else []
    lengths = np.array([len(texts[i]) for i in order], dtype=np.float64)  # descending
    best = np.zeros(n + 1)
    start = np.zeros(n + 1, dtype=np.int64)
    for end in range(1, n + 1):  # best[end]: the cheapest cover of the `end` longest texts
        first = np.arange(max(0, end - size), end)
        cost = best[first] + CALL_CHARS + (end - first) * lengths[first]
        pick = int(np.argmin(cost))
        best[end], start[end] = cost[pick], first[pick]
    cuts = [n]
    while cuts[-1] > 0:
        cuts.append(int(start[cuts[-1]]))
    return [order[a:b] for a, b in zip(cuts[::-1], cuts[-2::-1], strict=False)]


# Distinct words whose token counts `WordCounts` keeps (~17 MB when full; the whole Reuters file has 129,000); when
# full it starts afresh.
WORD_CACHE_SIZE = 200_000
# Characters `str.split` breaks words on that the tokenizer does not (it deletes them as control characters): a text
# holding one is tokenised whole.
_SPLIT_ONLY = re.compile("[\x0b\x0c\x1c-\x1f\x85]")
# Longer words (URLs, codes, encoded blobs) are counted in each call, never kept: the cache's size stays a count of
# short strings.
LONG_WORD = 64


class WordCounts:
    """`texts -> token counts` as the sum of each text's whitespace-separated words' counts, each distinct word
    tokenised once per process.

    A WordPiece tokenizer (BERT pre-tokenisation) never makes a token across whitespace, so a text's count is the
    sum of its words' (`archive.chunking` relies on the same). News repeats its words, so most of a long ingest's
    counting is a dict look-up per word instead of a tokenizer call per sentence: ~6x less CPU from a warm cache on
    the ingest's producer thread, which shares the cores with the model (a cold one costs about what the tokenizer
    does; docs/performance.md)."""

    def __init__(self, tokenize: Callable[[list[str]], list[int]], size: int = WORD_CACHE_SIZE) -> None:
        self._tokenize = tokenize
        self._size = size
        self._counts: dict[str, int] = {}

    def clear(self) -> None:
        """Forget every word counted so far."""
        self._counts = {}

    def __call__(self, texts: list[str]) -> list[int]:
        counts = self._counts  # this call's dict: another thread starting afresh replaces the attribute, not it
        words = [None if _SPLIT_ONLY.search(t) else t.split() for t in texts]  # None: tokenised whole
        missing = {w for ws in words if ws for w in ws if w not in counts}
        if len(counts) + len(missing) > self._size:
            counts = self._counts = {}
            missing = {w for ws in words if ws for w in ws}
        long: dict[str, int] = {}
        if missing:
            ordered = list(missing)
            for word, n in zip(ordered, self._tokenize(ordered), strict=True):
                (counts if len(word) <= LONG_WORD else long)[word] = n
        known: Mapping[str, int] = ChainMap(long, counts) if long else counts
        whole = [t for t, ws in zip(texts, words, strict=True) if ws is None]
        direct = iter(self._tokenize(whole) if whole else ())
        return [next(direct) if ws is None else sum(known[w] for w in ws) for ws in words]


def token_counter(model_path: Path) -> TokenCounter:
    """A thread-safe `texts -> token counts` function for the model's tokenizer.

    It uses its own tokenizer object, configured once: the encoder's tokenizer changes its
    truncation settings per call, so sharing it between the ingest's chunking thread and
    the encoding thread could embed untruncated inputs or fail with "Already borrowed".
    """
    tokenizer_file = model_path / "tokenizer.json"
    if tokenizer_file.is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        # Counting needs no character offsets, which `encode_batch_fast` skips (~15% less CPU, the same tokens).
        return WordCounts(
            lambda texts: [len(e.ids) for e in tokenizer.encode_batch_fast(texts, add_special_tokens=False)]
        )
    from transformers import AutoTokenizer  # slow-tokenizer models only

    slow = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
    lock = threading.Lock()

    def count(texts: list[str]) -> list[int]:
        with lock:
            encoded = slow(
                texts,
                add_special_tokens=False,
                truncation=False,
                return_attention_mask=False,
                return_token_type_ids=False,
            )
        return [len(ids) for ids in encoded["input_ids"]]

    return count


class Encoder:
    """Turns texts into L2-normalised float32 vectors; a backend implements `_encode_batch`.

    Shared by every backend: token counting, batching by length and the query-vector cache.
    """

    info: ModelInfo
    batch_size: int

    def __init__(self, model_path: Path, *, batch_size: int, query_cache_size: int) -> None:
        self.batch_size = batch_size
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache_size = query_cache_size
        self._cache_lock = threading.Lock()
        self._counter = token_counter(model_path)

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self.info.dim

    @property
    def max_tokens(self) -> int:
        """Longest input in tokens, special tokens included."""
        return self.info.max_tokens

    @property
    def backend(self) -> str:
        """Name of the backend, as recorded in the manifest ('onnx', 'torch', 'openvino', 'onnx-int8', 'hash')."""
        return self.info.backend

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word-piece tokens of each text, without the [CLS]/[SEP] the model adds."""
        if not texts:
            return []
        return self._counter(list(texts))

    def forget_token_counts(self) -> None:
        """Start `count_tokens`' word cache afresh (`WordCounts`): the next ingest pays the cold start a new process
        pays (the ingest benchmark calls it before each timed part)."""
        if isinstance(self._counter, WordCounts):
            self._counter.clear()

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embed texts as an (n, dim) float32 array of unit vectors."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for rows, vectors in self.iter_encode(texts, batch_size):
            out[rows] = vectors
        return out

    def iter_encode(
        self, texts: Sequence[str], batch_size: int | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Embed texts longest first, one model batch (`length_batches`) at a time: yields (row indices, unit vectors)."""
        for rows in length_batches(texts, batch_size or self.batch_size):
            yield rows, self._encode_batch([texts[i] for i in rows])

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        """One model batch (texts of similar length) -> (n, dim) float32 unit vectors."""
        raise NotImplementedError

    def _encode_one(self, text: str) -> np.ndarray:
        """One query's vector (backends may run it differently from a batch)."""
        return self._encode_batch([text])[0]

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query, through a small LRU cache of recent queries."""
        with self._cache_lock:
            cached = self._query_cache.get(text)
            if cached is not None:
                self._query_cache.move_to_end(text)
                return cached
        vector = self._encode_one(text)
        vector.setflags(write=False)  # shared by every caller of the cache
        with self._cache_lock:
            self._query_cache[text] = vector
            if len(self._query_cache) > self._query_cache_size:
                self._query_cache.popitem(last=False)
        return vector
