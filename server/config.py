"""Settings, read once from GRID_* environment variables and validated at start-up.

Every setting has a documented default in `.env.example`. `load_settings()` refuses to start with a
setting that would be unsafe (a weak secret in production, a database URL it cannot use).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
MIN_SECRET_BYTES = 32
ENVIRONMENTS = ("development", "test", "production")


class ConfigError(RuntimeError):
    """A setting is missing or unsafe. The message names the variable and how to fix it."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = f"sqlite:///{INSTANCE_DIR / 'grid.sqlite'}"
    spatialite_path: str = "mod_spatialite"
    secret_key: str = field(default="", repr=False)
    jwt_secret: str = field(default="", repr=False)
    snap_metres: float = 150.0
    index_check_seconds: float = 5.0
    ratelimit_storage_url: str = "memory://"
    import_parent_tolerance_m: float = 1.0
    import_overlap_tolerance_m2: float = 1.0
    import_gap_tolerance_m2: float = 1.0

    @property
    def is_spatialite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_production(self) -> bool:
        return self.env == "production"


def _env(name: str, default: str) -> str:
    return os.environ.get(f"GRID_{name}", default).strip()


def _float(name: str, default: float, minimum: float = 0.0) -> float:
    raw = _env(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"GRID_{name}={raw!r} is not a number.") from None
    if value < minimum:
        raise ConfigError(f"GRID_{name}={raw!r} must be at least {minimum}.")
    return value


def _database_url(raw: str) -> str:
    if raw.startswith("postgres://") or raw.startswith("postgresql://"):
        # psycopg 3 is the only PostgreSQL driver installed; name it explicitly for SQLAlchemy.
        raw = "postgresql+psycopg://" + raw.split("://", 1)[1]
    if not (raw.startswith("sqlite:///") or raw.startswith("postgresql+psycopg://")):
        raise ConfigError(
            f"GRID_DATABASE_URL={raw!r} is not supported: use sqlite:///PATH (SpatiaLite) "
            "or postgresql+psycopg://USER@HOST/DB (PostGIS)."
        )
    return raw


def _secret(name: str, env: str) -> str:
    value = _env(name, "")
    if not value and env != "production":
        return _dev_secret(name)
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"GRID_{name} must be at least {MIN_SECRET_BYTES} bytes. "
            'Generate one with: python3 -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    return value


def _dev_secret(name: str) -> str:
    """A random secret kept in instance/ so that development restarts keep tokens valid. Never used in production."""
    INSTANCE_DIR.mkdir(exist_ok=True)
    path = INSTANCE_DIR / f".dev-{name.lower()}"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_settings(overrides: dict | None = None) -> Settings:
    env = _env("ENV", "development")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"GRID_ENV={env!r} must be one of {', '.join(ENVIRONMENTS)}.")
    values = dict(
        env=env,
        database_url=_database_url(_env("DATABASE_URL", Settings.database_url)),
        spatialite_path=_env("SPATIALITE_PATH", Settings.spatialite_path),
        secret_key=_secret("SECRET_KEY", env),
        jwt_secret=_secret("JWT_SECRET", env),
        snap_metres=_float("SNAP_METRES", Settings.snap_metres),
        index_check_seconds=_float("INDEX_CHECK_SECONDS", Settings.index_check_seconds),
        ratelimit_storage_url=_env("RATELIMIT_STORAGE_URL", Settings.ratelimit_storage_url),
        import_parent_tolerance_m=_float("IMPORT_PARENT_TOLERANCE_M", Settings.import_parent_tolerance_m),
        import_overlap_tolerance_m2=_float("IMPORT_OVERLAP_TOLERANCE_M2", Settings.import_overlap_tolerance_m2),
        import_gap_tolerance_m2=_float("IMPORT_GAP_TOLERANCE_M2", Settings.import_gap_tolerance_m2),
    )
    values.update(overrides or {})
    settings = Settings(**values)
    _check_secrets_differ(settings)
    return settings


def _check_secrets_differ(settings: Settings) -> None:
    if settings.jwt_secret == settings.secret_key:
        raise ConfigError("GRID_JWT_SECRET must differ from GRID_SECRET_KEY.")
