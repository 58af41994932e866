"""A new domain is a folder: its tables and its router are found, not listed."""

import subprocess
import sys
from pathlib import Path

from app.api.routes import TRAFFIC_ORDER, router_modules
from app.core.discovery import domain_modules

APP = Path(__file__).resolve().parents[2] / "app"


def test_every_domains_models_are_found() -> None:
    on_disk = {p.parent.name for p in APP.glob("*/models.py")}
    found = {m.__name__.split(".")[1] for m in domain_modules("models")}
    assert found == on_disk and {"auth", "users", "posts", "uploads"} <= found


def test_every_router_module_is_served_busiest_first() -> None:
    on_disk = {p.stem for p in (APP / "api" / "routes").glob("*.py") if p.stem != "__init__"}
    served = [m.__name__.rsplit(".", 1)[1] for m in router_modules()]
    assert set(served) == on_disk
    assert served[: len(TRAFFIC_ORDER)] == list(TRAFFIC_ORDER)


def test_alembic_sees_every_table_in_a_fresh_process(tmp_path: Path) -> None:
    # autogenerate runs in its own process, where nothing has imported the domains yet: without
    # discovery it would see no tables and write a migration dropping them all.
    script = (
        "from alembic.config import Config\n"
        "from alembic.script import ScriptDirectory\n"
        "from alembic.runtime.environment import EnvironmentContext\n"
        "from app.core.models import Base\n"
        "config = Config('alembic.ini')\n"
        "def noop(rev, context):\n"
        "    return []\n"
        "with EnvironmentContext(config, ScriptDirectory.from_config(config), fn=noop,\n"
        "                        as_sql=True, destination_rev='head'):\n"
        "    ScriptDirectory.from_config(config).run_env()\n"
        "print(sorted(Base.metadata.tables))\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script],
        cwd=APP.parent,
        capture_output=True,
        text=True,
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "ENVIRONMENT": "test",
            "PATH": "/usr/bin:/bin",
        },
        check=True,
    )
    tables = result.stdout.strip().splitlines()[-1]
    for table in ("users", "sessions", "posts", "uploads", "api_keys"):
        assert f"'{table}'" in tables
