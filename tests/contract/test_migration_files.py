"""Migration file naming rules that protect every dialect from skipping statements."""

from __future__ import annotations

from pathlib import Path

import pytest

from training_analyzer.adapters.sql.migrate import MIGRATIONS_DIR, load_migrations
from training_analyzer.core.errors import ConfigurationError


def test_two_different_migrations_may_not_share_a_version(tmp_path: Path) -> None:
    (tmp_path / "0001_users.sql").write_text("CREATE TABLE a (x INTEGER);")
    (tmp_path / "0001_rls.postgres.sql").write_text("SELECT 1;")
    with pytest.raises(ConfigurationError, match="share version 0001"):
        load_migrations("sqlite", tmp_path)


def test_a_dialect_file_may_stand_beside_its_shared_twin(tmp_path: Path) -> None:
    (tmp_path / "0001_jobs.sql").write_text("CREATE TABLE jobs (x INTEGER);")
    (tmp_path / "0001_jobs.postgres.sql").write_text("CREATE TABLE jobs (x BIGINT);")
    (sqlite,) = load_migrations("sqlite", tmp_path)
    (postgres,) = load_migrations("postgres", tmp_path)
    assert sqlite.name == "0001_jobs.sql"
    assert postgres.name == "0001_jobs.postgres.sql"


def test_the_shipped_migrations_obey_the_rules() -> None:
    for dialect in ("sqlite", "postgres"):
        versions = [m.version for m in load_migrations(dialect, MIGRATIONS_DIR)]
        assert versions == sorted(set(versions))
