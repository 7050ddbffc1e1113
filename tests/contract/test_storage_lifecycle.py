"""Opening, pinging and closing storages; database URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contract.conftest import Backend, with_search_path
from training_analyzer.adapters.sql import parse_database_url
from training_analyzer.adapters.sql.postgres import PostgresStorage
from training_analyzer.adapters.sql.sqlite import SqliteStorage
from training_analyzer.core.errors import ConfigurationError, ExternalServiceError, Forbidden


async def test_ping_answers_while_open_and_fails_after_close(backend: Backend) -> None:
    await backend.storage.ping()
    other = await backend.open_another()
    await other.ping()
    await other.close()
    with pytest.raises(ExternalServiceError):
        await other.ping()


async def test_a_unit_of_work_needs_an_acting_user(backend: Backend) -> None:
    with pytest.raises(Forbidden):
        async with backend.storage.unit_of_work(user_id=""):
            pass


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def server_dsn(request: pytest.FixtureRequest) -> str:
    """The test server's DSN."""
    dsn: str = request.getfixturevalue("postgres_admin_dsn")
    return dsn


async def test_opening_postgres_with_a_wrong_role_or_port_names_the_cause(server_dsn: str) -> None:
    with pytest.raises(ConfigurationError, match="no_such_role"):
        await PostgresStorage.open(dsn=server_dsn, app_role="no_such_role")
    with pytest.raises(ExternalServiceError):
        await PostgresStorage.open(dsn="postgresql://postgres@127.0.0.1:1/test")


async def test_opening_sqlite_where_no_file_can_be_made_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigurationError, match="a-file"):
        await SqliteStorage.open(path=str(blocker / "inside" / "x.db"))


def test_database_urls_select_the_adapter() -> None:
    assert parse_database_url("sqlite:///data/ta.db") == ("sqlite", "data/ta.db")
    assert parse_database_url("sqlite:////var/lib/ta.db") == ("sqlite", "/var/lib/ta.db")
    assert parse_database_url("postgres://u@db:5432/ta") == (
        "postgres",
        "postgresql://u@db:5432/ta",
    )
    assert parse_database_url("postgresql://u@db/ta?search_path=s") == (
        "postgres",
        "postgresql://u@db/ta?search_path=s",
    )
    assert parse_database_url("memory://") == ("memory", "")
    assert (
        with_search_path("postgresql://u@h/db?x=1", "s") == "postgresql://u@h/db?x=1&search_path=s"
    )


def test_a_bad_database_url_is_a_configuration_error_without_the_password() -> None:
    for url in (
        "mysql://root:hunter2@db/ta",
        "sqlite:///",
        "sqlite://relative.db",
        "",
        "postgresql://",
    ):
        with pytest.raises(ConfigurationError) as caught:
            parse_database_url(url)
        assert "hunter2" not in caught.value.message
