"""Bytes -> text: binary sniffing, UTF-16 by BOM, UTF-8 (a few stray bytes allowed), then cp1252/latin-1.

Whole files or streamed lines; streamed files are decided line by line, with the same rule.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

_SNIFF_BYTES = 64 * 1024  # how much of a streamed file is checked for binary content
# Text that is UTF-8 apart from a few stray bytes stays UTF-8 (each stray sequence -> U+FFFD):
# cp1252 would garble every other accented letter ("café" -> "cafÃ©"). "A few" is at most this
# many, or 1% of the non-ASCII bytes, with at least twice as many valid non-ASCII characters.
_STRAY_HANDFUL = 3
_ASCII_BYTES = bytes(range(128))


class _Unreadable(Exception):
    """A whole file cannot be read; the message is the user-facing reason."""


def _binary_reason(head: bytes) -> str | None:
    """Why `head` (the start of a file) is not text, or None if it looks like text."""
    if b"\x00" in head:
        return "binary file (contains NUL bytes), not text"
    controls = sum(head.count(bytes([c])) for c in (*range(1, 9), *range(14, 32)))
    if head and controls * 20 > len(head):  # >5% control bytes: binary even without NULs
        return "binary file (mostly control bytes), not text"
    return None


def _decode(data: bytes) -> str:
    """Decode a whole file: UTF-16 with BOM, UTF-8 (BOM optional), else cp1252/latin-1 if not binary."""
    if not data.strip():
        raise _Unreadable("empty file")
    # UTF-16 is real text despite its NUL bytes, but only recognisable by its BOM.
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise _Unreadable("not valid UTF-16 text despite its byte-order mark") from None
    reason = _binary_reason(data[:_SNIFF_BYTES])
    if reason:
        raise _Unreadable(reason)
    return _decode_text(data, first=True)


def _decode_text(data: bytes, *, first: bool) -> str:
    """UTF-8 first, also with a few stray bytes; legacy Western (cp1252, else latin-1) as fallback."""
    try:
        return data.decode("utf-8-sig" if first else "utf-8")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    if _mostly_utf8(data, text):
        return text[1:] if first and text.startswith("\ufeff") else text  # as utf-8-sig would
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _mostly_utf8(data: bytes, text: str) -> bool:
    """Whether `data` (not valid UTF-8) is UTF-8 apart from a few stray bytes; `text` is it decoded with replace."""
    stray = text.count("\ufffd") - data.count("\ufffd".encode())  # a U+FFFD in the file itself is valid
    valid = len(text) - len(text.encode("ascii", errors="ignore")) - stray  # non-ASCII characters decoded
    high_bytes = len(data.translate(None, _ASCII_BYTES))
    # cp1252 text almost never forms valid UTF-8 sequences, so "mostly valid" means UTF-8 was meant.
    return stray <= max(_STRAY_HANDFUL, high_bytes // 100) and valid >= 2 * stray


def _lines(path: Path) -> Iterator[str]:
    """Stream a file's decoded lines (line ends kept) without loading it; raises if binary/empty."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
        if not head:
            raise _Unreadable("empty file")
        reason = _binary_reason(head)
        if reason:
            raise _Unreadable(reason)
        handle.seek(0)
        for index, raw in enumerate(handle):
            # Decoded per line so one stray cp1252 byte only affects its own line.
            yield _decode_text(raw, first=index == 0)
