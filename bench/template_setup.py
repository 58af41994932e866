"""The template side of bench/template.py: a runnable copy of fastapi/full-stack-fastapi-template's
backend, a virtual environment for it pinned like Quill's, and its database seeded and indexed.

Nothing of the template is committed here: it is copied from a checkout the user names.
"""

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

ROOT = Path(__file__).resolve().parent.parent
SUPERUSER = "admin@bench.example.com"
PASSWORD = "bench-password-1234"
# The template's uv.lock pins sqlmodel 0.0.39, which requires SQLAlchemy < 2.1; Quill's lock has
# 2.1.x, so sqlmodel is left to pip within the template's own range (>=0.0.39,<1.0).
UNPINNED = frozenset({"sqlmodel", "app"})
# The template lacks these for its items list (GET /api/v1/items/): the superuser's page is
# ORDER BY created_at DESC OFFSET/LIMIT over every item, a user's is the same WHERE owner_id = ?,
# with a count(*) of the same rows. Without them each request sorts the whole table, and the
# foreign key owner_id has no index of its own on PostgreSQL.
INDEXES = (
    "CREATE INDEX ix_item_created_at ON item (created_at)",
    "CREATE INDEX ix_item_owner_id_created_at ON item (owner_id, created_at)",
)
# Python 3.14 syntax the template uses, rewritten for the older Python Quill runs on (the
# comparison wants one interpreter): PEP 758's unparenthesised `except A, B:` and a forward
# reference PEP 649 leaves unevaluated (sqlmodel needs it as a string before 3.14).
SHIMS = (
    ("app/api/deps.py", r"^(\s*)except (\w+(?:, \w+)+):", r"\1except (\2):"),
    ("app/models.py", r": list\[Item\] = Relationship", ': list["Item"] = Relationship'),
)
WORDS = ("ink", "paper", "draft", "story", "note", "idea", "light", "river", "stone", "garden")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def backend_of(template_dir: Path) -> Path:
    """The template's backend folder, whether `template_dir` is the checkout or its backend."""
    for candidate in (template_dir / "backend", template_dir):
        if (candidate / "app" / "main.py").is_file() and (candidate / "pyproject.toml").is_file():
            return candidate
    raise SystemExit(f"{template_dir}: not a full-stack-fastapi-template checkout (no backend/)")


def commit_of(template_dir: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(template_dir), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else "unknown (not a git checkout)"


def runnable_copy(template_dir: Path, workdir: Path) -> tuple[Path, list[str]]:
    """The backend copied into `workdir`, with the shims it needs on this Python; the notes say
    what was changed."""
    copy = workdir / "template-backend"
    shutil.copytree(backend_of(template_dir), copy, ignore=shutil.ignore_patterns(".venv"))
    notes: list[str] = []
    if sys.version_info < (3, 14):
        for name, pattern, replacement in SHIMS:
            path = copy / name
            source, count = re.subn(
                pattern, replacement, path.read_text(encoding="utf-8"), flags=re.MULTILINE
            )
            if count:
                path.write_text(source, encoding="utf-8")
                notes.append(f"{name}: {count} line(s) rewritten for Python < 3.14")
    frontend = copy / "app" / "frontend"
    if not frontend.exists():
        # Its Docker build puts the built frontend here and app.main mounts it; the bench never
        # asks for it.
        frontend.mkdir()
        (frontend / "index.html").write_text("<!doctype html>\n", encoding="utf-8")
    return copy, notes


def _constraints(template_dir: Path) -> str:
    """Quill's pins for every package, then the template's uv.lock for the ones Quill lacks."""
    pins = quill_pins()
    lock_path = next(
        (p for p in (template_dir / "uv.lock", template_dir.parent / "uv.lock") if p.is_file()),
        None,
    )
    if lock_path is not None:
        for package in tomllib.loads(lock_path.read_text())["package"]:
            name = _canonical(package["name"])
            if name not in UNPINNED and "version" in package:
                pins.setdefault(name, package["version"])
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def venv(template_dir: Path, path: Path) -> tuple[Path, dict[str, str]]:
    """A venv with the template's dependencies, built once per set of pins; its python, and the
    versions installed of the packages Quill also uses (checked equal to Quill's lock)."""
    backend = backend_of(template_dir)
    deps: list[str] = tomllib.loads((backend / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    constraints = _constraints(backend)
    key = hashlib.sha256(json.dumps([deps, constraints, sys.version]).encode()).hexdigest()
    python = path / "bin" / "python"
    stamp = path / ".bench-stamp"
    if not (stamp.is_file() and stamp.read_text() == key):
        print(f"building the template's venv in {path} ...", flush=True)
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        (path / "constraints.txt").write_text(constraints)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-c", str(path / "constraints.txt"), *deps],
            check=True,
        )  # fmt: skip
        stamp.write_text(key)
    frozen = subprocess.run(
        [str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout
    installed = {
        _canonical(n): v for n, v in (ln.split("==", 1) for ln in frozen.splitlines() if "==" in ln)
    }
    quill = quill_pins()
    shared = {n: v for n, v in installed.items() if n in quill}
    differ = {n: (v, quill[n]) for n, v in shared.items() if quill[n] != v}
    if differ:
        raise SystemExit(f"the template's venv differs from requirements.lock: {differ}")
    return python, shared | {"sqlmodel": installed.get("sqlmodel", "?")}


def quill_pins() -> dict[str, str]:
    """requirements.lock as {canonical name: version}."""
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[_canonical(name)] = version.strip()
    return pins


def environment(url: URL) -> dict[str, str]:
    """The template's settings (app/core/config.py), for its server and its migrations."""
    return {
        **os.environ,
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789abcdef",
        "PROJECT_NAME": "template-bench",
        "FIRST_SUPERUSER": SUPERUSER,
        "FIRST_SUPERUSER_PASSWORD": PASSWORD,
        "SENTRY_DSN": "",
    }


@dataclass(frozen=True)
class Seeded:
    user_email: str  # a user who is not a superuser: the owner list
    indexes: tuple[str, ...]
    plans: dict[str, str]  # the top node of EXPLAIN for each list statement
    db_version: str


def seed(python: Path, copy: Path, url: URL, *, users: int, items: int) -> Seeded:
    """The template's own migrations, then one superuser, `users` users and `items` items owned
    by them at random (COPY), the two INDEXES, VACUUM ANALYZE."""
    env = environment(url)
    subprocess.run(
        [str(python), "-m", "alembic", "upgrade", "head"],
        cwd=copy, env=env, check=True, capture_output=True,
    )  # fmt: skip
    # The template's own hash (its pwdlib setup), so its login checks what it would in production.
    hashed = subprocess.run(
        [str(python), "-c", "import sys; from app.core.security import get_password_hash as h; "
         "print(h(sys.argv[1]))", PASSWORD],
        cwd=copy, env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    rng = random.Random(1)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    people: list[tuple[Any, ...]] = [(uuid.uuid4(), SUPERUSER, True, True, "Admin", hashed, start)]
    people += [
        (uuid.uuid4(), f"user{n}@bench.example.com", True, False, f"User {n}", hashed, start)
        for n in range(1, users + 1)
    ]
    owners = [row[0] for row in people[1:]]
    engine = create_engine(url)
    with engine.begin() as conn:
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur:
            columns = "id, email, is_active, is_superuser, full_name, hashed_password, created_at"
            with cur.copy(f'COPY "user" ({columns}) FROM STDIN') as copy_in:
                for row in people:
                    copy_in.write_row(row)
            with cur.copy(
                "COPY item (id, title, description, owner_id, created_at) FROM STDIN"
            ) as c:
                for n in range(items):
                    title = " ".join(rng.choice(WORDS) for _ in range(4)).capitalize()
                    body = " ".join(rng.choice(WORDS) for _ in range(20)).capitalize() + "."
                    when = start + timedelta(minutes=30 * n, microseconds=rng.randrange(10**6))
                    c.write_row((uuid.uuid4(), title, body, rng.choice(owners), when))
        for statement in INDEXES:
            conn.execute(text(statement))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        # The busiest user: their page is full whatever the seed.
        owner, email = conn.execute(
            text(
                'SELECT u.id, u.email FROM "user" u JOIN item i ON i.owner_id = u.id '
                "GROUP BY u.id, u.email ORDER BY count(*) DESC, u.email LIMIT 1"
            )
        ).one()
        statements = {
            "all": "SELECT * FROM item ORDER BY created_at DESC OFFSET 0 LIMIT 20",
            "owner": f"SELECT * FROM item WHERE owner_id = '{owner}' "
            "ORDER BY created_at DESC OFFSET 0 LIMIT 20",
            "owner count": f"SELECT count(*) FROM item WHERE owner_id = '{owner}'",
        }
        plans = {
            key: next(
                line.strip(" ->") for line in conn.scalars(text("EXPLAIN " + sql)) if "Scan" in line
            )
            for key, sql in statements.items()
        }
        version = " ".join(str(conn.scalar(text("SELECT version()"))).split()[:2])
    engine.dispose()
    return Seeded(email, INDEXES, plans, version)
