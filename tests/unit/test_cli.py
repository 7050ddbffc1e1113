"""The CLI: exit codes and messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from training_analyzer import __version__
from training_analyzer.entrypoints.cli import main


def test_version_prints_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == f"training-analyzer {__version__}"


def test_unknown_command_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_bad_port_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", "99999"])
    assert info.value.code == 2
    assert "port between 1 and 65535" in capsys.readouterr().err


def test_a_bad_setting_exits_two_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TA_LOG_LEVEL", "loud")
    assert main(["migrate"]) == 2
    assert "TA_LOG_LEVEL" in capsys.readouterr().err


def test_migrate_applies_then_reports_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["migrate", "--url", url]) == 0
    assert "applied" in capsys.readouterr().out
    assert main(["migrate", "--url", url]) == 0
    assert "up to date" in capsys.readouterr().out


def test_an_unsupported_database_url_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--url", "mysql://app:hunter2@db/z"]) == 2
    err = capsys.readouterr().err
    assert "'mysql://db/z'" in err
    assert "hunter2" not in err


def test_copy_data_refuses_the_same_source_and_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'same.db'}"
    assert main(["copy-data", "--from", url, "--to", url]) == 2
    assert "same database" in capsys.readouterr().err


async def _seed_user(url: str, email: str) -> str:
    from datetime import UTC, datetime

    from training_analyzer.adapters.sql.migrate import migrate
    from training_analyzer.adapters.sql.sqlite import SqliteStorage
    from training_analyzer.core.accounts import User
    from training_analyzer.ids import new_id

    await migrate(url)
    storage = await SqliteStorage.open(path=url.removeprefix("sqlite:///"))
    try:
        user_id = new_id()
        now = datetime(2026, 1, 1, tzinfo=UTC)
        user = User(id=user_id, email=email, display_name="A", created_at=now, updated_at=now)
        async with storage.unit_of_work(user_id=user_id) as uow:
            await uow.users.add(user_id=user_id, user=user)
            await uow.commit()
        return user_id
    finally:
        await storage.close()


def test_copy_data_copies_verifies_and_reruns_as_a_no_op(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    source = f"sqlite:///{tmp_path / 'laptop.db'}"
    target = f"sqlite:///{tmp_path / 'server.db'}"
    asyncio.run(_seed_user(source, "a@example.com"))
    assert main(["copy-data", "--from", source, "--to", target]) == 0
    first = capsys.readouterr().out
    assert "every table's row count matches" in first
    assert "copied 1 new row(s)" in first
    assert main(["copy-data", "--from", source, "--to", target]) == 0
    assert "copied 0 new row(s)" in capsys.readouterr().out
