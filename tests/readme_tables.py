"""The README's command and settings tables, generated from the code (`make docs` rewrites them;
tests/test_docs.py fails when they drift)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from archive.cli import main
from archive.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _commands(group: click.Group, ctx: click.Context, prefix: str = ""):
    """(name, command, context) of every command, a group's subcommands as `group sub`, in order."""
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        sub = click.Context(command, info_name=name, parent=ctx)
        if isinstance(command, click.Group):
            yield from _commands(command, sub, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command, sub


def commands_table() -> str:
    """One row per command: its usage (arguments and options) and its one-line help."""
    rows = ["| command | what it does |", "|---|---|"]
    ctx = click.Context(main, info_name="archive")
    for name, command, sub in _commands(main, ctx):
        arguments = " ".join(p.make_metavar(sub) for p in command.params if isinstance(p, click.Argument))
        options = [
            record[0].split(", ")[-1]
            for p in command.params
            if isinstance(p, click.Option) and (record := p.get_help_record(sub))
        ]
        usage = f"archive {name} {arguments}".strip() + "".join(f" [{o}]" for o in options)
        rows.append(f"| `{_cell(usage)}` | {_cell(command.get_short_help_str(limit=200))} |")
    return "\n".join(rows)


def settings_table() -> str:
    """One row per setting: environment variable, default, meaning."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for item in Settings.describe():
        rows.append(f"| `{item['env']}` | `{item['default']}` | {_cell(item['help'])} |")
    return "\n".join(rows)


BLOCKS = {"commands": commands_table, "settings": settings_table}


def block(text: str, name: str) -> str | None:
    """The text between `<!-- name:start -->` and `<!-- name:end -->`, or None."""
    match = re.search(rf"<!-- {name}:start -->\n(.*?)\n?<!-- {name}:end -->", text, re.S)
    return match.group(1) if match else None


def updated(text: str) -> str:
    """The README text with every generated block replaced by its current generation."""
    for name, make in BLOCKS.items():
        text = re.sub(
            rf"(<!-- {name}:start -->\n).*?\n?(<!-- {name}:end -->)",
            lambda m, make=make: m.group(1) + make() + "\n" + m.group(2),
            text,
            flags=re.S,
        )
    return text


if __name__ == "__main__":
    README.write_text(updated(README.read_text()))
    sys.stdout.write("README.md tables regenerated\n")
