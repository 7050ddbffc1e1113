"""The CLI's activity commands: `import` (files, folders, zips; summary; exit 2 on refusals),
`pmc` (the chart as a table) and the demo seeding of `serve`."""

from __future__ import annotations

import asyncio
import io
import shutil
import zipfile
from pathlib import Path

import pytest

from training_analyzer.adapters.sql.sqlite import SqliteStorage
from training_analyzer.entrypoints.cli import _seed_demo, main
from training_analyzer.settings import Environment, Settings

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "fit"
EMAIL = "rider@example.com"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite database named by TA_DATABASE_URL, with the account EMAIL."""
    path = tmp_path / "cli.db"
    monkeypatch.setenv("TA_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("TA_LOG_LEVEL", "warning")
    monkeypatch.setenv("TA_ADMIN_PASSWORD", "a long enough password")
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    assert main(["users", "create-admin", EMAIL]) == 0
    return path


def _activity_count(path: Path) -> int:
    async def count() -> int:
        storage = await SqliteStorage.open(path=str(path))
        try:
            async with storage.system(reason="test: count") as uow:
                user = await uow.directory.find_user_by_email(email=EMAIL)
                assert user is not None
                page = await uow.activities.page(user_id=user.id, limit=200)
                return len(page.items)
        finally:
            await storage.close()

    return asyncio.run(count())


def test_importing_the_fixture_folder_imports_links_and_refuses(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["import", str(FIXTURES), "--user", EMAIL]) == 2
    out, err = capsys.readouterr()
    # Seven activity files: six workouts plus the Fenix 5 copy of the Edge 820 ride; three
    # files the fixtures' README says must be refused.
    assert "imported 6 activities" in out
    assert "duplicates 1 (0 already imported, 1 the same workout" in out
    assert "refused 3 file(s)" in out
    assert "Settings.fit: this is a device settings file" in err
    assert "activity-unexpected-eof.fit: the file ends early: it is truncated" in err
    assert "activity-settings-corruptheader.fit" in err
    assert _activity_count(db) == 7


def test_importing_the_same_file_again_is_a_duplicate_and_exits_zero(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = str(FIXTURES / "garmin-fenix-5-run.fit")
    assert main(["import", run, "--user", EMAIL]) == 0
    capsys.readouterr()
    assert main(["import", run, "--user", EMAIL]) == 0
    out = capsys.readouterr().out
    assert "imported 0 activities" in out
    assert "1 already imported" in out
    assert _activity_count(db) == 1


def test_a_zip_and_a_nested_folder_are_imported(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nested = tmp_path / "season" / "june"
    nested.mkdir(parents=True)
    shutil.copy(FIXTURES / "garmin-fenix-5-walk.fit", nested / "walk.FIT")
    (nested / "notes.txt").write_text("not an activity")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ride.fit", (FIXTURES / "sample-activity-indoor-trainer.fit").read_bytes())
    (tmp_path / "export.zip").write_bytes(buffer.getvalue())
    capsys.readouterr()
    code = main(["import", str(tmp_path / "season"), str(tmp_path / "export.zip"), "--user", EMAIL])
    assert code == 0
    assert "imported 2 activities" in capsys.readouterr().out
    assert _activity_count(db) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["import", "missing.fit", "--user", EMAIL], "no such file or folder"),
        (
            ["import", str(FIXTURES / "garmin-fenix-5-run.fit"), "--user", "x@example.com"],
            "no account",
        ),
        (["import", str(FIXTURES / "garmin-fenix-5-run.fit"), "--user", "not-an-email"], "email"),
        (["pmc", "--user", "x@example.com"], "no account"),
    ],
)
def test_bad_input_exits_two_and_stores_nothing(
    db: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    capsys.readouterr()
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert _activity_count(db) == 0


def test_an_empty_folder_exits_two(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["import", str(tmp_path / "empty"), "--user", EMAIL]) == 2
    assert "no .fit, .gpx, .tcx or .zip file found" in capsys.readouterr().err


def test_pmc_prints_one_row_per_day(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["pmc", "--days", "7", "--user", EMAIL]) == 0
    out = capsys.readouterr().out
    assert "fitness (CTL)" in out
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == 7


def test_pmc_refuses_a_zero_day_window(db: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["pmc", "--days", "0", "--user", EMAIL])
    assert exit_info.value.code == 2


def test_demo_seeding_follows_the_setting_and_never_runs_in_production(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert _seed_demo(Settings(database_url=url, demo_data=False), dialect="sqlite") is None
    production = Settings(database_url=url, env=Environment.PRODUCTION)
    assert _seed_demo(production, dialect="sqlite") is None
    assert _seed_demo(Settings(database_url="memory://"), dialect="memory") is None
