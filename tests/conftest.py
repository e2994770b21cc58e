"""Shared fixtures: settings -> archive -> app -> client, with the real model loaded once per session.

Two backends. By default every archive is a SQLite file in a temporary folder. With
ARCHIVE_TEST_DATABASE_URL set to a PostgreSQL server's URL (`make test` starts a throwaway
server for its second pass, see tests/pg_cluster.sh), every archive instead gets a database of
its own on that server, created for the test (or the module or session, for shared fixtures)
from a migrated template and dropped after it; tests that never open a database are then left
out (they ran on the SQLite pass and hold nothing backend-specific).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # as the CLI sets it (archive.cli.main)

from archive.config import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SEEDS = PROJECT_ROOT / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPUS = FIXTURES / "corpus"
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
SEED_UID = "seed-000-9d4ed8e042963c08"
TEST_DATABASE_URL = os.environ.get("ARCHIVE_TEST_DATABASE_URL") or None
BACKEND = "postgresql" if TEST_DATABASE_URL else "sqlite"
DATABASE_FIXTURE = "databases"  # every fixture that opens an archive depends on it


class Databases:
    """Fresh, migrated PostgreSQL databases on the test server; `new()` is None on the SQLite pass."""

    def __init__(self, admin_url: str | None) -> None:
        self.admin_url = admin_url
        self._admin = None
        self._template: str | None = None

    def _url(self, name: str) -> str:
        from sqlalchemy.engine import make_url

        assert self.admin_url is not None
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def _execute(self, statement: str) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        if self._admin is None:
            self._admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with self._admin.connect() as conn:
            conn.execute(text(statement))

    def new(self, *, migrated: bool = True) -> str | None:
        """The URL of a new database (a copy of a migrated template unless `migrated` is False)."""
        if self.admin_url is None:
            return None
        if migrated and self._template is None:
            from archive.store.db import make_engine, migrate

            template = f"archive_template_{uuid.uuid4().hex[:8]}"
            self._execute(f"CREATE DATABASE {template}")
            engine = make_engine(self._url(template))
            migrate(engine)
            engine.dispose()
            self._template = template
        name = f"archive_test_{uuid.uuid4().hex[:12]}"
        self._execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {self._template}" if migrated else ""))
        return self._url(name)

    def drop(self, url: str | None) -> None:
        """Drop a database made by `new` (its open connections are ended)."""
        if url is not None:
            from sqlalchemy.engine import make_url

            self._execute(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)")

    def close(self) -> None:
        if self._template is not None:
            self.drop(self._url(self._template))
        if self._admin is not None:
            self._admin.dispose()


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    """The session's source of fresh databases (PostgreSQL pass) or of None (SQLite files)."""
    server = Databases(TEST_DATABASE_URL)
    yield server
    server.close()


@pytest.fixture
def database_url(databases: Databases) -> Iterator[str | None]:
    """A fresh database for one test on the PostgreSQL pass; None (a SQLite file in the index folder) otherwise."""
    url = databases.new()
    yield url
    databases.drop(url)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests marked for the other backend (with their reason); on the PostgreSQL pass, leave out
    the tests that never open a database (they ran on the SQLite pass: nothing in them is backend-specific)."""
    for item in items:
        for marker, backend, name in (
            ("sqlite_only", "sqlite", "SQLite"),
            ("postgres_only", "postgresql", "PostgreSQL"),
        ):
            found = item.get_closest_marker(marker)
            if found is not None and backend != BACKEND:
                item.add_marker(pytest.mark.skip(reason=f"{name} only: {found.args[0]}"))
    if BACKEND == "sqlite":
        return

    def kept(item: pytest.Item) -> bool:
        return (
            DATABASE_FIXTURE in getattr(item, "fixturenames", ()) or item.get_closest_marker("sqlite_only") is not None
        )

    left_out = [item for item in items if not kept(item)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if kept(item)]


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with a clear message when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data set not available: {path} (these checks need ../shared/data beside the project)")
    return path


@pytest.fixture(scope="session", autouse=True)
def encoder_cache(tmp_path_factory: pytest.TempPathFactory):
    """One int8 export for the whole session: every archive (and `archive` subprocess) finds it here."""
    path = tmp_path_factory.mktemp("encoders")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ARCHIVE_ENCODER_CACHE", str(path))
        mp.delenv("ARCHIVE_ENCODER", raising=False)  # tests run the default: 'auto'
        yield path


@pytest.fixture(scope="session")
def encoder(encoder_cache: Path):
    """The real bundled all-MiniLM-L6-v2 with the default encoder of a new archive, loaded once for
    the whole session (shared with in-process CLI invocations)."""
    from archive.encoders import shared_encoder

    return shared_encoder(Settings(encoder_cache=encoder_cache))


@pytest.fixture(scope="session")
def hash_encoder():
    """The model-free 'hash' encoder: deterministic word-hashing vectors, for tests where meaning is not the point."""
    from archive.encoders import shared_encoder

    return shared_encoder(Settings(encoder="hash"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    """Settings for a fresh archive in a temporary directory, with the hash encoder (no model) and no
    relevance floor (it is calibrated for the model's cosines; the hash encoder's mean word overlap)."""
    return Settings(
        index_dir=tmp_path / "index", rate_limit="off", encoder="hash", database_url=database_url, relevance_floor=-1
    )


@pytest.fixture
def archive(settings: Settings, hash_encoder):
    """An empty archive with the hash encoder: the write path, recovery, the API and pages without the model."""
    from archive.archive import open_archive

    a = open_archive(settings, encoder=hash_encoder, create=True)
    yield a
    a.close()


@pytest.fixture
def model_settings(tmp_path: Path, database_url: str | None) -> Settings:
    """Settings for a fresh archive in a temporary directory, embedded by the real model."""
    return Settings(index_dir=tmp_path / "model-index", rate_limit="off", database_url=database_url)


@pytest.fixture
def model_archive(model_settings: Settings, encoder):
    """An empty archive sharing the session's real model: for tests where meaning is the point."""
    from archive.archive import open_archive

    a = open_archive(model_settings, encoder=encoder, create=True)
    yield a
    a.close()


@pytest.fixture(scope="session")
def seeded_archive(tmp_path_factory: pytest.TempPathFactory, encoder, databases: Databases):
    """An archive holding the seed article plus the small fixture corpus; built once, treat as read-only."""
    from archive.archive import open_archive
    from archive.readers import read_paths
    from archive.write import ingest

    url = databases.new()
    settings = Settings(index_dir=tmp_path_factory.mktemp("seeded") / "index", rate_limit="off", database_url=url)
    a = open_archive(settings, encoder=encoder, create=True)
    report = ingest(a, read_paths([SEEDS, CORPUS]))
    assert report.failed == [] and report.added == 13, report.as_dict()
    yield a
    a.close()
    databases.drop(url)


@pytest.fixture(scope="session")
def app(seeded_archive):
    """The Flask app over the seeded archive, relevance floor off: its 13 stories are on 13 subjects, and the
    tests of paging, sorting, facets and timelines need every article ranked (the floor has its own tests)."""
    from archive.web import create_app

    application = create_app(settings=seeded_archive.settings.with_(relevance_floor=-1), archive=seeded_archive)
    application.config.update(TESTING=True)
    return application


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


def one_line_error(result) -> str:
    """The CLI's one error line (`Error: ...`, exit 1, no traceback) of a click test result."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def hash_archive(tmp_path_factory: pytest.TempPathFactory, name: str, hash_encoder, database_url: str | None = None):
    """A new archive in its own temporary folder, embedded by the hash encoder (for module-scoped fixtures);
    on the PostgreSQL pass, in the database `database_url` (from the `databases` fixture)."""
    from archive.archive import open_archive

    settings = Settings(
        index_dir=tmp_path_factory.mktemp(name) / "index",
        rate_limit="off",
        encoder="hash",
        database_url=database_url,
        relevance_floor=-1,
    )
    return open_archive(settings, encoder=hash_encoder, create=True)


def session_or_load(encoder, backend: str, cache: Path):
    """The session's encoder when it is this backend, else this backend loaded (ONNX and OpenVINO: from the
    session's export)."""
    from archive.encoders import load_encoder

    if encoder.backend == backend:
        return encoder
    return load_encoder(backend, cache_dir=None if backend == "torch" else cache)


def _encoder_fixture(backend: str, doc: str):
    """A session fixture giving the encoder of one backend (shared with the `encoder` fixture when it is that one)."""

    @pytest.fixture(scope="session")
    def fixture(encoder, encoder_cache):
        return session_or_load(encoder, backend, encoder_cache)

    fixture.__doc__ = doc
    return fixture


fp32 = _encoder_fixture("torch", "The torch (sentence-transformers fp32) reference, loaded once for the session.")
onnx = _encoder_fixture("onnx", "The onnxruntime fp32 encoder.")
int8 = _encoder_fixture("onnx-int8", "The ONNX int8 encoder.")
openvino = _encoder_fixture("openvino", "The OpenVINO encoder (what 'auto' runs for fp32 archives).")
