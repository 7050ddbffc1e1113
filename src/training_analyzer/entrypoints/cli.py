"""The `training-analyzer` command line: serve, migrate, copy-data, users, import, pmc, version.

Bad input (a wrong setting, a bad argument, an unreadable URL) prints one clear message and
exits with status 2; nothing is changed.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import structlog

from training_analyzer import __version__
from training_analyzer.adapters.sql import parse_database_url
from training_analyzer.adapters.sql.copy import copy_data
from training_analyzer.adapters.sql.migrate import migrate
from training_analyzer.container import check_settings_for_serving, running
from training_analyzer.core.errors import ConfigurationError, DomainError, InvalidInput
from training_analyzer.logging import configure_logging
from training_analyzer.settings import Settings, load_settings

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

log = structlog.get_logger(__name__)


class CliError(Exception):
    """A user-facing error with an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        raise CliError(f"configuration error: {exc.message}") from None


def _setup_logging(settings: Settings) -> None:
    configure_logging(level=settings.log_level, fmt=settings.log_format)


# --- serve -------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    """Apply pending migrations, then serve the HTTP API with uvicorn."""
    import uvicorn  # imported here so other commands start fast

    settings = _settings()
    _setup_logging(settings)
    check_settings_for_serving(settings)
    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    url = settings.effective_database_url
    dialect, _ = parse_database_url(url)
    if dialect != "memory":
        applied = asyncio.run(migrate(url))
        log.info("db.migrated", dialect=dialect, applied=len(applied))
    demo_login = _seed_demo(settings, dialect=dialect)
    base = f"http://{host}:{port}"
    print(
        f"Training Analyzer {__version__} serving on {base}\n"
        f"  API docs:     {base}/schema\n"
        f"  OpenAPI JSON: {base}/schema/openapi.json\n"
        f"  Health:       {base}/health",
        flush=True,
    )
    if demo_login is not None:
        print(f"  Demo login:   {demo_login}", flush=True)
    uvicorn.run(
        "training_analyzer.entrypoints.http.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,  # structlog (configured per process by app_factory) owns the output
        access_log=False,  # the request middleware logs each request with its id
        # X-Forwarded-For decides the client address that login rate limits count, so only
        # the proxies named in TA_TRUSTED_PROXIES may set it; by default nobody can.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        server_header=False,
    )
    return EXIT_OK


def _seed_demo(settings: Settings, *, dialect: str) -> str | None:
    """Seed the demo athlete when TA_DEMO_DATA allows; return the login line to print."""
    if not settings.demo_data:
        return None
    if settings.is_production:
        log.info("demo.skipped", reason="never in production")
        return None
    if dialect == "memory":
        # The server process gets a database of its own: a seed made here would not reach it.
        log.info("demo.skipped", reason="an in-memory database is not shared with the server")
        return None

    async def seed() -> tuple[str, bool]:
        async with running(settings, serving=False) as container:
            demo = await container.demo()
            login = await demo.seed()  # logs demo.seeded when it creates the athlete
            return f"{login.email} / {login.password}", login.created

    line, created = asyncio.run(seed())
    return line + ("" if created else " (seeded on an earlier start)")


# --- migrate -----------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply pending migrations to TA_DATABASE_URL (or --url)."""
    settings = _settings()
    _setup_logging(settings)
    url = args.url or settings.effective_database_url
    applied = asyncio.run(migrate(url))
    if applied:
        print(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        print("database is up to date")
    return EXIT_OK


# --- copy-data ---------------------------------------------------------------------------


def cmd_copy_data(args: argparse.Namespace) -> int:
    """Copy every table from one database to another, verifying row counts."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    settings = _settings()
    _setup_logging(settings)
    if args.source == args.target:
        raise CliError("--from and --to name the same database")
    with Progress(
        TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), transient=False
    ) as progress:
        tasks: dict[str, Any] = {}

        def on_progress(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = progress.add_task(table, total=total)
            progress.update(tasks[table], completed=done, total=total)

        report = asyncio.run(
            copy_data(
                source_url=args.source,
                target_url=args.target,
                batch_size=args.batch_size,
                progress=on_progress,
            )
        )
    from rich.console import Console
    from rich.table import Table

    table = Table("table", "source rows", "target before", "target after", "added", "verified")
    for t in report.tables:
        table.add_row(
            t.table,
            str(t.source_rows),
            str(t.target_rows_before),
            str(t.target_rows),
            str(t.inserted),
            "ok" if t.matches else "MISMATCH",
        )
    Console().print(table)
    if not report.ok:
        bad = ", ".join(t.table for t in report.tables if not t.matches)
        print(f"error: row counts differ after the copy in: {bad}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"copied {report.inserted} new row(s); every table's row count matches")
    return EXIT_OK


# --- users -------------------------------------------------------------------------------

ADMIN_PASSWORD_ENV = "TA_ADMIN_PASSWORD"  # noqa: S105 - the name of a variable, not a secret


def _read_password(args: argparse.Namespace) -> str | None:
    """The new account's password from stdin (--password-stdin) or TA_ADMIN_PASSWORD."""
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n") or None
    return os.environ.get(ADMIN_PASSWORD_ENV) or None


def _prompt_password() -> str:
    """Ask twice on the terminal; refuse when the two differ."""
    first = getpass.getpass("Password for the new administrator (at least 10 characters): ")
    second = getpass.getpass("Repeat the password: ")
    if first != second:
        raise CliError("the two passwords differ; nothing was changed")
    return first


def cmd_users_create_admin(args: argparse.Namespace) -> int:
    """Make EMAIL an administrator: promote its account, or create it with a password."""
    from training_analyzer.core.identity import normalize_email
    from training_analyzer.services.accounts import ClientInfo
    from training_analyzer.services.admin import AdminOutcome

    settings = _settings()
    _setup_logging(settings)
    email = normalize_email(args.email)  # a malformed address stops here: exit 2
    url = settings.effective_database_url
    if parse_database_url(url)[0] != "memory":
        asyncio.run(migrate(url))
    password = _read_password(args)

    async def create(password: str | None) -> tuple[str, AdminOutcome]:
        async with running(settings, serving=False) as container:
            admin = await container.admin()
            user, outcome = await admin.create_admin(
                email=email, password=password, client=ClientInfo(user_agent="cli")
            )
            return user.email, outcome

    try:
        shown, outcome = asyncio.run(create(password))
    except InvalidInput as exc:
        needs_password = exc.argument == "password" and password is None
        if not (needs_password and sys.stdin.isatty() and not args.password_stdin):
            if needs_password:
                raise CliError(
                    f"{email} has no account yet: give its password on stdin "
                    f"(--password-stdin) or in {ADMIN_PASSWORD_ENV}"
                ) from None
            raise
        shown, outcome = asyncio.run(create(_prompt_password()))
    message = {
        AdminOutcome.CREATED: f"created administrator {shown}",
        AdminOutcome.PROMOTED: f"{shown} is now an administrator",
        AdminOutcome.ALREADY_ADMIN: f"{shown} is already an administrator",
    }[outcome]
    print(message)
    return EXIT_OK


# --- import and pmc ----------------------------------------------------------------------

_IMPORT_SUFFIXES = (".fit", ".gpx", ".tcx", ".zip", ".gz")
_IMPORT_BATCH = 50


def _import_paths(paths: Sequence[str]) -> list[Path]:
    """The files to import: files as given, folders searched recursively for activity files."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.name.lower().endswith(_IMPORT_SUFFIXES)
                )
            )
        elif path.is_file():
            found.append(path)
        else:
            raise CliError(f"{raw}: no such file or folder; nothing was imported")
    if not found:
        raise CliError("no .fit, .gpx, .tcx or .zip file found; nothing was imported")
    return found


async def _user_id_for(storage: Any, email: str) -> str:
    """The id of the account with `email`; CliError (exit 2) when there is none."""
    from training_analyzer.core.identity import normalize_email

    async with storage.system(reason="cli: find the account to act for") as uow:
        user = await uow.directory.find_user_by_email(email=normalize_email(email))
    if user is None:
        raise CliError(f"no account with the email {email}; nothing was changed")
    account_id: str = user.id
    return account_id


def cmd_import(args: argparse.Namespace) -> int:
    """Import activity files, folders and zips for a user; exit 2 if any file was refused."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from training_analyzer.services.activities import DuplicateMatch, ImportReport

    settings = _settings()
    _setup_logging(settings)
    files = _import_paths(args.paths)
    url = settings.effective_database_url
    if parse_database_url(url)[0] != "memory":
        asyncio.run(migrate(url))

    async def lookup() -> str:
        async with running(settings, serving=False) as container:
            return await _user_id_for(await container.storage(), args.user)

    user_id = asyncio.run(lookup())

    async def run(progress: Progress, task: Any) -> list[ImportReport]:
        reports: list[ImportReport] = []
        async with running(settings, serving=False) as container:
            activities = await container.activities()
            for first in range(0, len(files), _IMPORT_BATCH):
                chunk = files[first : first + _IMPORT_BATCH]
                loaded = [(str(p), p.read_bytes()) for p in chunk]

                def advance(name: str, done: int, total: int) -> None:
                    progress.update(task, advance=1, file=Path(name).name)

                reports.append(
                    await activities.import_files(
                        user_id=user_id, files=loaded, on_progress=advance, batch_size=len(loaded)
                    )
                )
        return reports

    console = Console()
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[file]}"),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("import", total=len(files), file="")
        reports = asyncio.run(run(progress, task))
    items = [a for r in reports for a in r.activities]
    refused = [f for r in reports for f in r.refused]
    same_file = sum(1 for a in items if a.match is DuplicateMatch.SAME_FILE)
    same_workout = sum(1 for a in items if a.match is DuplicateMatch.SAME_WORKOUT)
    imported = sum(r.imported_count for r in reports)
    console.print(
        f"imported {imported} activit{'y' if imported == 1 else 'ies'}; "
        f"duplicates {same_file + same_workout} ({same_file} already imported, "
        f"{same_workout} the same workout from another file, stored and linked); "
        f"refused {len(refused)} file(s)",
        highlight=False,
    )
    for warning in (w for r in reports for w in r.warnings):
        console.print(f"  warning: {warning}", highlight=False)
    for item in refused:
        print(f"  refused {item.file}: {item.reason}", file=sys.stderr)
    return EXIT_BAD_INPUT if refused else EXIT_OK


def cmd_pmc(args: argparse.Namespace) -> int:
    """Print the performance-management chart (load, CTL, ATL, TSB) of the last N days."""
    from rich.console import Console
    from rich.table import Table

    from training_analyzer.services.analytics import FitnessTimeline

    settings = _settings()
    _setup_logging(settings)
    url = settings.effective_database_url
    if parse_database_url(url)[0] != "memory":
        asyncio.run(migrate(url))

    async def run() -> FitnessTimeline:
        async with running(settings, serving=False) as container:
            user_id = await _user_id_for(await container.storage(), args.user)
            analytics = await container.analytics()
            return await analytics.fitness_timeline(user_id=user_id, days=args.days)

    timeline = asyncio.run(run())
    table = Table(
        "day",
        "load",
        "fitness (CTL)",
        "fatigue (ATL)",
        "form (TSB)",
        title=f"Performance management, {timeline.start} to {timeline.end}",
    )
    for day in timeline.days:
        table.add_row(
            f"{day.day:%a %Y-%m-%d}",
            f"{day.load:.0f}{'*' if day.estimated else ''}",
            f"{day.ctl:.1f}",
            f"{day.atl:.1f}",
            f"{day.tsb:+.1f}",
        )
    console = Console()
    console.print(table)
    if any(d.estimated for d in timeline.days):
        console.print("* part of the day's load is an RPE estimate")
    return EXIT_OK


# --- version -----------------------------------------------------------------------------


def cmd_version(_: argparse.Namespace) -> int:
    """Print the version."""
    print(f"training-analyzer {__version__}")
    return EXIT_OK


# --- parser ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port between 1 and 65535, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(prog="training-analyzer", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = sub.add_parser("serve", help="serve the HTTP API (applies migrations first)")
    serve.add_argument("--host", help="address to bind (default TA_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="port (default TA_PORT, 8000)")
    serve.add_argument("--workers", type=_positive_int, help="worker processes (TA_WORKERS)")
    serve.set_defaults(func=cmd_serve)

    mig = sub.add_parser("migrate", help="apply pending database migrations")
    mig.add_argument("--url", help="database URL (default TA_DATABASE_URL)")
    mig.set_defaults(func=cmd_migrate)

    copy = sub.add_parser("copy-data", help="copy every table between databases (re-runnable)")
    copy.add_argument("--from", dest="source", required=True, help="source database URL")
    copy.add_argument("--to", dest="target", required=True, help="target database URL")
    copy.add_argument("--batch-size", type=_positive_int, default=1000, help="rows per batch")
    copy.set_defaults(func=cmd_copy_data)

    users = sub.add_parser("users", help="manage accounts")
    users_sub = users.add_subparsers(dest="users_command", required=True, parser_class=_Parser)
    create_admin = users_sub.add_parser(
        "create-admin",
        help="make EMAIL an administrator (creating the account if needed)",
        description=(
            "Promote the account of EMAIL to administrator, or create it. A new account needs "
            f"a password: from stdin with --password-stdin, from {ADMIN_PASSWORD_ENV}, or "
            "typed at the prompt."
        ),
    )
    create_admin.add_argument("email", metavar="EMAIL", help="the account's email address")
    create_admin.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the new account's password from the first line of stdin",
    )
    create_admin.set_defaults(func=cmd_users_create_admin)

    imp = sub.add_parser(
        "import",
        help="import FIT/GPX/TCX files, folders (recursively) and zips for a user",
        description=(
            "Each file is decoded, checked for duplicates, scored and stored; a summary lists "
            "what was imported, what was a duplicate and what was refused, with the reason. "
            "Exits with status 2 when any file was refused (the others are imported)."
        ),
    )
    imp.add_argument("paths", nargs="+", metavar="PATH", help="a file, a folder or a zip")
    imp.add_argument("--user", required=True, metavar="EMAIL", help="the account to import for")
    imp.set_defaults(func=cmd_import)

    pmc = sub.add_parser("pmc", help="print the fitness chart (CTL/ATL/TSB) as a table")
    pmc.add_argument("--user", required=True, metavar="EMAIL", help="the account to show")
    pmc.add_argument("--days", type=_positive_int, default=90, help="days ending today (90)")
    pmc.set_defaults(func=cmd_pmc)

    ver = sub.add_parser("version", help="print the version")
    ver.set_defaults(func=cmd_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 failure, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (InvalidInput, ConfigurationError) as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
