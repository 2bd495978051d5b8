"""The README and .env.example must name every GRID_* setting the code reads (they are the front door)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def settings_read_by_code() -> set[str]:
    source = (ROOT / "server" / "config.py").read_text(encoding="utf-8")
    names = re.findall(r'_(?:env|float|int|secret|tags|list|bool)\(\s*"([A-Z0-9_]+)"', source)
    assert len(names) > 10, "the pattern no longer finds the settings in server/config.py"
    return {f"GRID_{n}" for n in names} | {"GRID_ENV"}


def test_env_example_names_every_setting():
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    missing = sorted(n for n in settings_read_by_code() if f"{n}=" not in text)
    assert not missing, f".env.example lacks {missing}"


def test_readme_configuration_table_names_every_setting():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = sorted(n for n in settings_read_by_code() if f"`{n}`" not in text)
    assert not missing, f"README.md's configuration table lacks {missing}"


def test_readme_shows_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text
