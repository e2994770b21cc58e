"""Docs that mirror code cannot drift: the README's command and settings tables equal their generation."""

from __future__ import annotations

import pytest

from tests.readme_tables import BLOCKS, README, block


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_readme_table_matches_the_code(name: str):
    current = block(README.read_text(), name)
    assert current is not None, f"README.md lacks the <!-- {name}:start --> ... <!-- {name}:end --> block"
    assert current == BLOCKS[name](), f"README.md's {name} table is stale: run `make docs`"
