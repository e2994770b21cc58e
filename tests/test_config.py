"""Settings from the environment: a bad value is one clear error naming the variable and the expected type."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from archive.cli import main
from archive.config import Settings
from archive.errors import ArchiveError


def test_good_values_are_converted():
    s = Settings.from_env({"ARCHIVE_BATCH_SIZE": " 32 ", "ARCHIVE_SAVE_SECONDS": "2.5", "ARCHIVE_INDEX_DIR": "/x"})
    assert (s.batch_size, s.save_seconds, str(s.index_dir)) == (32, 2.5, "/x")


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("ARCHIVE_BATCH_SIZE", "abc", "an integer"),
        ("ARCHIVE_BATCH_SIZE", "1.5", "an integer"),
        ("ARCHIVE_BATCH_SIZE", "0", "at least 1"),
        ("ARCHIVE_CANDIDATES", "-3", "at least 1"),
        ("ARCHIVE_SAVE_SECONDS", "soon", "a number"),
        ("ARCHIVE_KEYWORD_WEIGHT", "nan", "a number"),
        ("ARCHIVE_MAX_BODY_BYTES", "10MB", "an integer"),
    ],
)
def test_a_bad_number_names_the_variable_and_the_type(env, value, expected):
    """Issue 15 item 4e: `ARCHIVE_BATCH_SIZE=abc` was a bare ValueError traceback."""
    with pytest.raises(ArchiveError) as caught:
        Settings.from_env({env: value})
    message = caught.value.message
    assert env in message and expected in message and repr(value) in message


def test_a_bad_boolean_names_the_variable():
    from archive.config import coerce_setting

    assert coerce_setting("ARCHIVE_X", False, "yes") is True and coerce_setting("ARCHIVE_X", True, "off") is False
    with pytest.raises(ArchiveError, match=r"ARCHIVE_X.*true or false"):
        coerce_setting("ARCHIVE_X", False, "maybe")


def test_the_cli_prints_one_line_for_a_bad_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHIVE_BATCH_SIZE", "abc")
    result = CliRunner().invoke(main, ["--index-dir", str(tmp_path), "stats"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.strip().splitlines() == [
        "Error: ARCHIVE_BATCH_SIZE must be an integer, got 'abc' (Chunks per embedding batch.)"
    ]
