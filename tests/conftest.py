"""Shared fixtures: settings -> archive -> app -> client, with the real model loaded once per session."""

from __future__ import annotations

import os
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
def settings(tmp_path: Path) -> Settings:
    """Settings for a fresh archive in a temporary directory, with the hash encoder (no model)."""
    return Settings(index_dir=tmp_path / "index", rate_limit="off", encoder="hash")


@pytest.fixture
def archive(settings: Settings, hash_encoder):
    """An empty archive with the hash encoder: the write path, recovery, the API and pages without the model."""
    from archive.archive import open_archive

    a = open_archive(settings, encoder=hash_encoder, create=True)
    yield a
    a.close()


@pytest.fixture
def model_settings(tmp_path: Path) -> Settings:
    """Settings for a fresh archive in a temporary directory, embedded by the real model."""
    return Settings(index_dir=tmp_path / "model-index", rate_limit="off")


@pytest.fixture
def model_archive(model_settings: Settings, encoder):
    """An empty archive sharing the session's real model: for tests where meaning is the point."""
    from archive.archive import open_archive

    a = open_archive(model_settings, encoder=encoder, create=True)
    yield a
    a.close()


@pytest.fixture(scope="session")
def seeded_archive(tmp_path_factory: pytest.TempPathFactory, encoder):
    """An archive holding the seed article plus the small fixture corpus; built once, treat as read-only."""
    from archive.archive import open_archive
    from archive.readers import read_paths
    from archive.write import ingest

    settings = Settings(index_dir=tmp_path_factory.mktemp("seeded") / "index", rate_limit="off")
    a = open_archive(settings, encoder=encoder, create=True)
    report = ingest(a, read_paths([SEEDS, CORPUS]))
    assert report.failed == [] and report.added == 13, report.as_dict()
    yield a
    a.close()


@pytest.fixture(scope="session")
def app(seeded_archive):
    """The Flask app over the seeded archive."""
    from archive.web import create_app

    application = create_app(archive=seeded_archive)
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


def hash_archive(tmp_path_factory: pytest.TempPathFactory, name: str, hash_encoder):
    """A new archive in its own temporary folder, embedded by the hash encoder (for module-scoped fixtures)."""
    from archive.archive import open_archive

    settings = Settings(index_dir=tmp_path_factory.mktemp(name) / "index", rate_limit="off", encoder="hash")
    return open_archive(settings, encoder=hash_encoder, create=True)
