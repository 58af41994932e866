"""Test set-up: a scratch database migrated once, each test inside a rolled-back transaction.

`TEST_DATABASE_URL` picks the database (CI sets it for MariaDB and PostgreSQL); by default a
SQLite file in a temporary folder. The run's settings are built explicitly (tests/utils/settings.py)
and handed to create_app, to Database and to alembic; nothing is read from the environment.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from fastapi import FastAPI
from fastapi.testclient import TestClient
from passlib.context import CryptContext
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.api.deps import get_db
from app.cli import alembic_config
from app.core.config import Settings
from app.core.database import Database
from app.main import create_app
from app.uploads.storage import TMP_DIR_NAME, LocalStorage, Storage
from app.users.models import User
from tests.utils.accounts import PASSWORD, bearer, login
from tests.utils.s3 import BACKEND as S3_BACKEND
from tests.utils.s3 import S3Target, s3_target
from tests.utils.settings import run_settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return run_settings()


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Target]:
    """A real S3 API (tests/utils/s3.py): moto's server, or TEST_S3_ENDPOINT_URL's store."""
    with s3_target(tmp_path_factory.mktemp("s3")) as target:
        yield target


@pytest.fixture
def storage(tmp_path: Path, request: pytest.FixtureRequest) -> Storage:
    """Each test's own upload folder (or, TEST_STORAGE_BACKEND=s3, its own key prefix in the
    test bucket): its rows are rolled back, so its files must go too."""
    if S3_BACKEND == "s3":
        target: S3Target = request.getfixturevalue("s3")
        return target.storage(tmp_path / "uploads" / TMP_DIR_NAME)
    return LocalStorage(tmp_path / "uploads")


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Database]:
    """The test database, migrated to head; every app the tests build shares its engine."""
    command.upgrade(alembic_config(settings), "head")
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
def app(db: Session, settings: Settings, database: Database, storage: Storage) -> FastAPI:
    application = create_app(settings, database=database, storage=storage)

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
