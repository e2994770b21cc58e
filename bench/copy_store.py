"""Copy an archive to another database: the SQL rows through the store's own models, the vector files as they are.

    .venv/bin/python -m bench.copy_store SRC_INDEX_DIR DST_DATABASE_URL DST_INDEX_DIR [--src-database-url URL]

Moves an archive between backends (SQLite -> PostgreSQL, or back) without re-embedding: the
destination gets the same article and chunk ids (chunk ids are the FAISS ids), so the copied
vectors.faiss and manifest.json stay valid; its id sequences start past every id the source
ever gave. The destination database must be empty (it is migrated here); the source is only
read, under its data directory's writer lock (an ingest into it waits, or is refused, until the
copy ends). The files of SRC_INDEX_DIR other than the SQLite database (vectors,
manifest, the exported encoders) are copied into DST_INDEX_DIR.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

BATCH = 1000
SQLITE_FILES = {"archive.db", "archive.db-wal", "archive.db-shm", ".write.lock"}


def copy_rows(src, dst, log=print) -> dict[str, int]:
    """Copy every article and chunk from engine `src` to engine `dst` (migrated, empty); counts per table."""
    from archive.store import reads, writes

    with dst.connect() as conn:
        if not reads.is_empty(conn):
            raise SystemExit("the destination database already holds articles: copy into an empty one")
    counts = {}
    with src.connect() as source, dst.begin() as target:
        for table in ("articles", "chunks"):
            last, n, started = 0, 0, time.perf_counter()
            while rows := reads.table_rows(source, table, last, BATCH):
                writes.insert_rows(target, table, rows)
                last, n = rows[-1]["id"], n + len(rows)
            counts[table] = n
            log(f"  {table}: {n} rows in {time.perf_counter() - started:.1f}s")
        counts["article_labels"] = writes.fill_labels(target)  # derived from each article's extra
        writes.reserve_ids(target, *reads.next_ids(source))
    return counts


def copy_files(src_dir: Path, dst_dir: Path) -> list[str]:
    """Copy the index folder's files (not the SQLite database); names copied."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    copied = []
    for path in sorted(src_dir.iterdir()):
        if path.name in SQLITE_FILES:
            continue
        target = dst_dir / path.name
        if path.is_symlink():  # `current` and the names that follow it: links stay links (relative ones)
            target.unlink(missing_ok=True)
            target.symlink_to(os.readlink(path))
        elif path.is_dir():
            shutil.copytree(path, target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(path, target)
        copied.append(path.name)
    return copied


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src_index_dir", type=Path)
    parser.add_argument("dst_database_url")
    parser.add_argument("dst_index_dir", type=Path)
    parser.add_argument("--src-database-url", help="the source's database (default: the SQLite file in SRC_INDEX_DIR)")
    args = parser.parse_args(argv)

    from archive.config import Settings
    from archive.store.db import current_revision, head_revision, make_engine, migrate

    src_url = Settings(index_dir=args.src_index_dir, database_url=args.src_database_url).sqlalchemy_url
    if args.src_database_url is None and not (args.src_index_dir / "archive.db").exists():
        print(f"no archive.db in {args.src_index_dir}", file=sys.stderr)
        return 2
    src, dst = make_engine(src_url), make_engine(args.dst_database_url)
    if current_revision(src) != head_revision():
        print("the source's schema is older than this code's: run `archive migrate` on it first", file=sys.stderr)
        return 2
    migrate(dst)
    print(f"copying {src.url.render_as_string()} -> {dst.url.render_as_string()}")
    from filelock import FileLock

    from archive.archive import LOCK_FILE

    with FileLock(str(args.src_index_dir / LOCK_FILE), timeout=10):
        counts = copy_rows(src, dst)
        files = copy_files(args.src_index_dir, args.dst_index_dir)
    print(f"copied {counts['articles']} articles, {counts['chunks']} chunks; files: {', '.join(files)}")
    src.dispose()
    dst.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
