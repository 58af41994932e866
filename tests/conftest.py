"""Test set-up: a scratch database migrated once, each test inside a rolled-back transaction.

`TEST_DATABASE_URL` picks the database (CI sets it for MariaDB and PostgreSQL); by default a
SQLite file in a temporary folder. The environment below is the process settings (get_settings):
the app under test is built from them with create_app(settings), and the servers some tests
start in a subprocess inherit them. It is set before the app is imported because the upload
routes read their body limits from get_settings() when their module loads.
"""

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TMP = Path(tempfile.mkdtemp(prefix="quill-tests-"))
os.environ.update(
    DATABASE_URL=os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{TMP / 'test.db'}",
    ENVIRONMENT="test",
    SECRET_KEY="test-secret-key-that-is-long-enough-0123456789",
    UPLOAD_DIR=str(TMP / "uploads"),
    REQUEST_LOG_FILE=str(TMP / "requests.log"),
    LOGIN_LOG_FILE=str(TMP / "login_log.txt"),
    MAIL_BACKEND="file",
    MAIL_DIR=str(TMP / "mail"),
    CORS_ORIGINS="http://localhost:3000",
)

from alembic import command  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from passlib.context import CryptContext  # noqa: E402
from sqlalchemy import Engine  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from app.api.deps import get_db  # noqa: E402
from app.cli import alembic_config  # noqa: E402
from app.core.config import Settings, get_settings  # noqa: E402
from app.core.database import Database  # noqa: E402
from app.main import create_app  # noqa: E402
from app.users.models import User  # noqa: E402
from tests.utils.accounts import PASSWORD, bearer, login  # noqa: E402


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(autouse=True)
def _own_upload_dir(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Each test gets an empty upload folder: its rows are rolled back, so its files must go too."""
    from app.uploads.storage import get_storage

    monkeypatch.setattr(settings, "upload_dir", tmp_path / "uploads")
    get_storage.cache_clear()
    yield
    get_storage.cache_clear()


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Database]:
    """The test database, migrated to head; every app the tests build shares its engine."""
    command.upgrade(alembic_config(), "head")
    database = Database.from_settings(settings)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def engine(database: Database) -> Engine:
    return database.engine


@pytest.fixture(scope="session")
def session_factory(database: Database) -> sessionmaker[Session]:
    """Real sessions on real connections, as requests get them (nothing is rolled back)."""
    return database.sessions


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session whose commits become savepoints of one transaction rolled back at the end."""
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(
        bind=connection,
        join_transaction_mode="create_savepoint",
        autoflush=False,
        expire_on_commit=False,
    )
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def app(db: Session, settings: Settings, database: Database) -> FastAPI:
    application = create_app(settings, database=database)

    def _get_test_db() -> Iterator[Session]:
        yield db

    application.dependency_overrides[get_db] = _get_test_db
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


# --- users and credentials -----------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def production_pwd_context() -> Iterator[CryptContext]:
    """The suite hashes with the cheapest argon2id parameters; this yields production's context.

    At production cost every register, login and password change would spend most of the run in
    argon2. tests/core/test_security.py checks the production parameters on the yielded context.
    """
    from app.core import security

    production = security.pwd_context
    security.pwd_context = production.copy(argon2__memory_cost=8, argon2__time_cost=1)
    yield production
    security.pwd_context = production


@pytest.fixture(scope="session")
def password_hash() -> str:
    from app.core.security import hash_password

    return hash_password(PASSWORD)


@pytest.fixture
def make_user(db: Session, password_hash: str) -> Callable[..., User]:
    """Insert a user directly (one argon2 hash for the whole run keeps the suite fast)."""
    counter = iter(range(1, 1_000_000))

    def _make(email: str | None = None, *, name: str = "Someone", is_admin: bool = False) -> User:
        user = User(
            email=(email or f"user{next(counter)}@example.com").lower(),
            hashed_password=password_hash,
            name=name,
            is_admin=is_admin,
        )
        db.add(user)
        db.commit()
        return user

    return _make


@pytest.fixture
def user_client(
    client: TestClient, make_user: Callable[..., User]
) -> tuple[TestClient, User, dict[str, str]]:
    """A (client, user, headers) triple for a logged-in user."""
    user = make_user("owner@example.com", name="Owner")
    tokens = login(client, user.email)
    return client, user, bearer(tokens["access_token"])
