"""The scheduler's persistent store: one SQLAlchemy database for jobs, history and requests.

SQLite (one file) by default; a PostgreSQL URL for replicas that share state. APScheduler's
`SQLAlchemyJobStore` keeps the jobs (trigger, next run time, paused) in `JOBS_TABLE`; the
three tables below are ours (history, run-now requests, runs going on). Times are stored
in UTC and read back aware. A URL may carry a password: only `masked(url)` is ever logged
or shown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from runner.errors import ConfigurationError, DrillError

JOBS_TABLE = "drill_runner_jobs"
DEFAULT_STORE = "sqlite:///results/scheduler.sqlite"

metadata = MetaData()

runs = Table(
    "drill_runner_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("drill", String(63), nullable=False, index=True),
    # 'scenario' (one scenario's verdict), 'drill' (a whole drill run) or 'skipped'
    Column("kind", String(16), nullable=False),
    Column("scenario", String(63)),
    Column("trigger", String(16), nullable=False),
    Column("scheduled_for", DateTime(timezone=True)),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("run_id", String(80)),
    Column("rto_seconds", Float),
    Column("rpo_seconds", Float),
)

requests = Table(
    "drill_runner_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("drill", String(63), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("requested_by", String(120), nullable=False),
    Column("claimed_at", DateTime(timezone=True)),
    Column("claimed_by", String(120)),
)


active = Table(
    "drill_runner_active",
    metadata,
    # One row per drill run going on, whoever runs it (see runner/scheduler/active.py).
    Column("drill", String(63), primary_key=True),
    Column("owner", String(120), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("pid_start", BigInteger),
    Column("token", String(32), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("scheduled_for", DateTime(timezone=True)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Column("drill_path", Text, nullable=False),
    Column("results_dir", Text, nullable=False),
    # JSON: [{scenario, run_id, status}], each written before the scenario run starts
    Column("runs", Text, nullable=False),
    Column("recovering_by", String(160)),
    Column("recovering_at", DateTime(timezone=True)),
)


def normalize(url: str) -> str:
    """`postgresql://` uses psycopg 3 (the driver this project installs)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def masked(url: str) -> str:
    """The URL with any password hidden: the only form that may be logged."""
    try:
        return make_url(normalize(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable store URL>"


class StoreError(DrillError):
    """The store could not be reached or used; the message never holds a password."""


@contextlib.contextmanager
def store_errors(url: str, doing: str = "unreachable") -> Iterator[None]:
    """Turn a database error into one clean line naming the store (password hidden)."""
    try:
        yield
    except SQLAlchemyError as e:
        raise StoreError(f"store {masked(url)} {doing}: {describe(e, url)}") from None
    except OSError as e:
        raise StoreError(f"store {masked(url)} {doing}: {e.strerror or type(e).__name__}") from None


def describe(e: BaseException, url: str) -> str:
    """The driver's first line (e.g. 'connection refused'), without the URL's password."""
    cause = getattr(e, "orig", None) or e
    text = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    password = _password(url)
    if password:
        text = text.replace(password, "***")
    return f"{type(cause).__name__}: {text[:300]}"


def _password(url: str) -> str | None:
    try:
        return make_url(normalize(url)).password
    except ArgumentError:
        return None


def open_store(url: str) -> Engine:
    """An engine for the store, with our tables created (idempotent); StoreError if it is
    unreachable."""
    url = normalize(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(f"--store: not a database URL: {masked(url)}") from None
    connect_args: dict[str, object] = {}
    if parsed.get_backend_name() == "sqlite":
        connect_args["timeout"] = 30  # two replicas on one file wait for each other
    elif parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = 10
    with store_errors(url):
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        metadata.create_all(engine)
    return engine


def aware(t: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes: ours are always UTC."""
    if t is None or t.tzinfo is not None:
        return t
    return t.replace(tzinfo=UTC)


def utc(t: datetime | None) -> datetime | None:
    return t.astimezone(UTC) if t is not None else None
