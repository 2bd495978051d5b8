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
# Largest GRID_PHOTO_MAX_PIXELS; server/photos also lowers Pillow's process-wide Image.MAX_IMAGE_PIXELS to it.
PHOTO_PIXELS_CEILING = 50_000_000
PHOTO_STORES = ("local", "s3")
PHOTO_STORED_PX_RANGE = (320, 10_000)  # GRID_PHOTO_MAX_STORED_PX: from a thumbnail's size to beyond a 50 MP photo's
# Household tags (GRID_HOUSEHOLD_TAGS, comma-separated): the list a household's tags are validated against.
DEFAULT_HOUSEHOLD_TAGS = ("留守老人", "困难户", "独居老人", "残疾人家庭", "外来人口")


class ConfigError(RuntimeError):
    """A setting is missing or unsafe. The message names the variable and how to fix it."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = f"sqlite:///{INSTANCE_DIR / 'grid.sqlite'}"
    spatialite_path: str = "mod_spatialite"
    # SQLite commits: "normal" (WAL, SQLite's advice for WAL) syncs the log at checkpoints, every 50 ms: never
    # corrupt, and a crashed or killed process loses nothing, but a power cut or OS crash can lose the commits of
    # those last moments. "full" syncs every write commit before it returns (group commit: after the write lock is
    # released), at about two thirds of the intake throughput on this kind of disk. PostgreSQL is not affected.
    sqlite_synchronous: str = "normal"
    # PostgreSQL, JSON tip intake only (its own connections, server.rawsql): "off" answers 202 before the commit's
    # WAL reaches the disk, the same trade as SQLite's "normal" -- a database crash within ~0.6 s (3 x
    # wal_writer_delay) can lose the tip with its key, never half of it, and the phone, which keeps a tip until
    # GET /tips/mine shows it (written by the worker with a synchronous commit), files it again. "on" waits for the
    # flush (the disk's flush then costs about a third of intake's throughput). Everything else commits synchronously.
    pg_intake_synchronous_commit: str = "off"
    secret_key: str = field(default="", repr=False)
    jwt_secret: str = field(default="", repr=False)
    snap_metres: float = 150.0
    index_check_seconds: float = 5.0
    ratelimit_storage_url: str = "memory://"
    trusted_proxies: int = 0  # reverse proxies in front (nginx): X-Forwarded-For/-Proto are trusted from that many
    import_parent_tolerance_m: float = 1.0
    import_overlap_tolerance_m2: float = 1.0
    import_gap_tolerance_m2: float = 1.0
    # Accounts and tokens (server/accounts): access tokens are short, refresh tokens rotate (single use).
    access_token_minutes: int = 15
    refresh_token_days: int = 14
    jwt_issuer: str = "grid-inspection"
    jwt_audience: str = "grid-inspection-api"
    # Failed logins allowed per phone number and per client IP (Flask-Limiter syntax, e.g. "5/minute").
    login_rate_per_phone: str = "5/minute"
    login_rate_per_ip: str = "20/minute"
    # Tips (server/tips): where conflict-of-interest tips go, 'possibly related' window, anonymous intake rate.
    conflict_queue: str = "township"
    related_radius_m: float = 200.0
    related_hours: float = 72.0
    anonymous_tip_rate: str = "10/hour"
    # Photos (server/photos): limits per photo, per tip and per request; where cleaned photos are stored.
    photo_max_bytes: int = 15 * 1024 * 1024
    photo_max_pixels: int = 50_000_000
    photo_max_per_tip: int = 6
    photo_max_request_bytes: int = 60 * 1024 * 1024
    photo_max_stored_px: int = 2048  # longest side of a stored photo; see server/photos/pipeline.py for why
    photo_store: str = "local"
    photo_dir: str = str(INSTANCE_DIR / "photos")
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = ""
    s3_prefix: str = "photos/"
    s3_access_key_id: str = field(default="", repr=False)
    s3_secret_access_key: str = field(default="", repr=False)
    # Households, member links, visits (server/households) and patrols (server/patrols).
    household_tags: tuple[str, ...] = DEFAULT_HOUSEHOLD_TAGS
    link_limit: int = 15
    visit_max_distance_m: float = 100.0
    visit_target_days: int = 30
    patrol_max_speed_mps: float = 15.0
    patrol_max_accuracy_m: float = 100.0
    patrol_simplify_m: float = 5.0
    # Workflow clock (server/workflow): working hours in local time, holidays and make-up working days (调休), each
    # a comma-separated list of ISO dates (A..B for a range) or the path of a file holding such a list. The early
    # warning goes out at this fraction of the accept window.
    work_hours: str = "08:30-12:00,13:30-17:30"
    timezone: str = "Asia/Shanghai"
    holidays: str = ""
    makeup_workdays: str = ""
    early_warning_fraction: float = 0.75
    # Notifications (server/notifications) and the worker (server/worker.py).
    inprocess_worker: bool = False
    worker_poll_seconds: float = 2.0
    escalation_interval_seconds: float = 60.0
    notify_max_attempts: int = 10
    notify_backoff_seconds: float = 30.0
    notify_backoff_max_seconds: float = 3600.0
    notify_lease_seconds: float = 60.0
    notify_timeout_seconds: float = 10.0
    # Channel URLs (robot URLs carry their access token) and signing secrets are sealed at rest with these Fernet
    # keys, comma-separated: the first seals, every one opens (add a new key in front to rotate). A key derived from
    # GRID_SECRET_KEY always opens too, and seals when none is set: set keys (then reseal) before changing that secret.
    channel_keys: str = field(default="", repr=False)
    sse_max_seconds: float = 300.0
    sse_poll_seconds: float = 1.0
    # Coverage (server/coverage, server/ogc, the /map page). Indicators are cached per area for at most this many
    # seconds (0 = no cache; at most 60, so that a new tip shows within a minute). Index weights and red/yellow/grey
    # thresholds are configuration, not code: see server/coverage/indices.py for the defaults and the formula.
    coverage_cache_seconds: float = 30.0
    coverage_patrol_days: int = 7
    index_weights: str = ""
    index_thresholds: str = "85,60"
    member_target_households: int = 11
    member_target_patrol_hours: float = 2.0
    # Optional basemap for /map (e.g. 天地图, WGS-84/CGCS2000 web-mercator tiles): {z}/{x}/{y} (and {s}) placeholders.
    map_tile_url: str = ""
    map_label_url: str = ""
    map_tile_subdomains: str = ""
    map_tile_attribution: str = ""

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


def _int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"GRID_{name}={raw!r} is not a whole number.") from None


def _bool(name: str, default: bool) -> bool:
    raw = _env(name, "1" if default else "0").lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"GRID_{name}={raw!r} must be 1 or 0.")


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
        sqlite_synchronous=_env("SQLITE_SYNCHRONOUS", Settings.sqlite_synchronous).lower(),
        pg_intake_synchronous_commit=_env(
            "PG_INTAKE_SYNCHRONOUS_COMMIT", Settings.pg_intake_synchronous_commit
        ).lower(),
        secret_key=_secret("SECRET_KEY", env),
        jwt_secret=_secret("JWT_SECRET", env),
        snap_metres=_float("SNAP_METRES", Settings.snap_metres),
        index_check_seconds=_float("INDEX_CHECK_SECONDS", Settings.index_check_seconds),
        ratelimit_storage_url=_env("RATELIMIT_STORAGE_URL", Settings.ratelimit_storage_url),
        trusted_proxies=_int("TRUSTED_PROXIES", Settings.trusted_proxies),
        import_parent_tolerance_m=_float("IMPORT_PARENT_TOLERANCE_M", Settings.import_parent_tolerance_m),
        import_overlap_tolerance_m2=_float("IMPORT_OVERLAP_TOLERANCE_M2", Settings.import_overlap_tolerance_m2),
        import_gap_tolerance_m2=_float("IMPORT_GAP_TOLERANCE_M2", Settings.import_gap_tolerance_m2),
        access_token_minutes=_int("ACCESS_TOKEN_MINUTES", Settings.access_token_minutes),
        refresh_token_days=_int("REFRESH_TOKEN_DAYS", Settings.refresh_token_days),
        jwt_issuer=_env("JWT_ISSUER", Settings.jwt_issuer),
        jwt_audience=_env("JWT_AUDIENCE", Settings.jwt_audience),
        login_rate_per_phone=_env("LOGIN_RATE_PER_PHONE", Settings.login_rate_per_phone),
        login_rate_per_ip=_env("LOGIN_RATE_PER_IP", Settings.login_rate_per_ip),
        conflict_queue=_env("CONFLICT_QUEUE", Settings.conflict_queue),
        related_radius_m=_float("RELATED_RADIUS_M", Settings.related_radius_m),
        related_hours=_float("RELATED_HOURS", Settings.related_hours),
        anonymous_tip_rate=_env("ANONYMOUS_TIP_RATE", Settings.anonymous_tip_rate),
        photo_max_bytes=_int("PHOTO_MAX_BYTES", Settings.photo_max_bytes),
        photo_max_pixels=_int("PHOTO_MAX_PIXELS", Settings.photo_max_pixels),
        photo_max_per_tip=_int("PHOTO_MAX_PER_TIP", Settings.photo_max_per_tip),
        photo_max_request_bytes=_int("PHOTO_MAX_REQUEST_BYTES", Settings.photo_max_request_bytes),
        photo_max_stored_px=_int("PHOTO_MAX_STORED_PX", Settings.photo_max_stored_px),
        photo_store=_env("PHOTO_STORE", Settings.photo_store),
        photo_dir=_env("PHOTO_DIR", "") or Settings.photo_dir,
        s3_bucket=_env("S3_BUCKET", Settings.s3_bucket),
        s3_endpoint_url=_env("S3_ENDPOINT_URL", Settings.s3_endpoint_url),
        s3_region=_env("S3_REGION", Settings.s3_region),
        s3_prefix=_env("S3_PREFIX", Settings.s3_prefix),
        s3_access_key_id=_env("S3_ACCESS_KEY_ID", ""),
        s3_secret_access_key=_env("S3_SECRET_ACCESS_KEY", ""),
        channel_keys=_env("CHANNEL_KEYS", ""),
        household_tags=_tags("HOUSEHOLD_TAGS", DEFAULT_HOUSEHOLD_TAGS),
        link_limit=_int("LINK_LIMIT", Settings.link_limit),
        visit_max_distance_m=_float("VISIT_MAX_DISTANCE_M", Settings.visit_max_distance_m),
        visit_target_days=_int("VISIT_TARGET_DAYS", Settings.visit_target_days),
        patrol_max_speed_mps=_float("PATROL_MAX_SPEED_MPS", Settings.patrol_max_speed_mps),
        patrol_max_accuracy_m=_float("PATROL_MAX_ACCURACY_M", Settings.patrol_max_accuracy_m),
        patrol_simplify_m=_float("PATROL_SIMPLIFY_M", Settings.patrol_simplify_m),
        work_hours=_env("WORK_HOURS", Settings.work_hours),
        timezone=_env("TIMEZONE", Settings.timezone),
        holidays=_env("HOLIDAYS", Settings.holidays),
        makeup_workdays=_env("MAKEUP_WORKDAYS", Settings.makeup_workdays),
        early_warning_fraction=_float("EARLY_WARNING_FRACTION", Settings.early_warning_fraction),
        inprocess_worker=_bool("INPROCESS_WORKER", Settings.inprocess_worker),
        worker_poll_seconds=_float("WORKER_POLL_SECONDS", Settings.worker_poll_seconds),
        escalation_interval_seconds=_float("ESCALATION_INTERVAL_SECONDS", Settings.escalation_interval_seconds),
        notify_max_attempts=_int("NOTIFY_MAX_ATTEMPTS", Settings.notify_max_attempts),
        notify_backoff_seconds=_float("NOTIFY_BACKOFF_SECONDS", Settings.notify_backoff_seconds),
        notify_backoff_max_seconds=_float("NOTIFY_BACKOFF_MAX_SECONDS", Settings.notify_backoff_max_seconds),
        notify_lease_seconds=_float("NOTIFY_LEASE_SECONDS", Settings.notify_lease_seconds),
        notify_timeout_seconds=_float("NOTIFY_TIMEOUT_SECONDS", Settings.notify_timeout_seconds),
        sse_max_seconds=_float("SSE_MAX_SECONDS", Settings.sse_max_seconds),
        sse_poll_seconds=_float("SSE_POLL_SECONDS", Settings.sse_poll_seconds),
        coverage_cache_seconds=_float("COVERAGE_CACHE_SECONDS", Settings.coverage_cache_seconds),
        coverage_patrol_days=_int("COVERAGE_PATROL_DAYS", Settings.coverage_patrol_days),
        index_weights=_env("INDEX_WEIGHTS", Settings.index_weights),
        index_thresholds=_env("INDEX_THRESHOLDS", Settings.index_thresholds),
        member_target_households=_int("MEMBER_TARGET_HOUSEHOLDS", Settings.member_target_households),
        member_target_patrol_hours=_float("MEMBER_TARGET_PATROL_HOURS", Settings.member_target_patrol_hours),
        map_tile_url=_env("MAP_TILE_URL", Settings.map_tile_url),
        map_label_url=_env("MAP_LABEL_URL", Settings.map_label_url),
        map_tile_subdomains=_env("MAP_TILE_SUBDOMAINS", Settings.map_tile_subdomains),
        map_tile_attribution=_env("MAP_TILE_ATTRIBUTION", Settings.map_tile_attribution),
    )
    values.update(overrides or {})
    values["household_tags"] = _split_tags(values["household_tags"])
    settings = Settings(**values)
    _check_secrets_differ(settings)
    if settings.sqlite_synchronous not in ("full", "normal"):
        raise ConfigError(f"GRID_SQLITE_SYNCHRONOUS={settings.sqlite_synchronous!r} must be full or normal.")
    if settings.pg_intake_synchronous_commit not in ("on", "off"):
        value = settings.pg_intake_synchronous_commit
        raise ConfigError(f"GRID_PG_INTAKE_SYNCHRONOUS_COMMIT={value!r} must be on or off.")
    _check_tips(settings)
    _check_accounts(settings)
    _check_photos(settings)
    _check_households(settings)
    _check_coverage(settings)
    _check_workflow(settings)
    _check_channel_keys(settings)
    return settings


def _check_channel_keys(settings: Settings) -> None:
    from cryptography.fernet import Fernet

    for i, key in enumerate(k.strip() for k in settings.channel_keys.split(",") if k.strip()):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                f"GRID_CHANNEL_KEYS: key {i + 1} is not a Fernet key (32 url-safe base64-encoded bytes). Generate one "
                'with: python3 -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
            ) from None


def _check_tips(settings: Settings) -> None:
    if settings.conflict_queue not in ("township", "county"):
        raise ConfigError(f"GRID_CONFLICT_QUEUE={settings.conflict_queue!r} must be township or county.")


def _check_secrets_differ(settings: Settings) -> None:
    if settings.jwt_secret == settings.secret_key:
        raise ConfigError("GRID_JWT_SECRET must differ from GRID_SECRET_KEY.")


RATELIMIT_STORAGE_SCHEMES = ("memory://", "redis://", "rediss://", "redis+unix://", "redis+sentinel://")


def _check_accounts(settings: Settings) -> None:
    """Token lifetimes, JWT iss/aud, login rates and rate-limit storage; overrides are checked too."""
    from limits import parse_many

    if not 1 <= settings.access_token_minutes <= 24 * 60:
        raise ConfigError(f"GRID_ACCESS_TOKEN_MINUTES={settings.access_token_minutes} must be 1..1440 (default 15).")
    if not 1 <= settings.refresh_token_days <= 90:
        raise ConfigError(f"GRID_REFRESH_TOKEN_DAYS={settings.refresh_token_days} must be 1..90 (default 14).")
    for name in ("jwt_issuer", "jwt_audience"):
        if not getattr(settings, name):
            raise ConfigError(f"GRID_{name.upper()} must not be empty.")
    for name in ("login_rate_per_phone", "login_rate_per_ip"):
        value = getattr(settings, name)
        try:
            parse_many(value)
        except ValueError:
            raise ConfigError(
                f"GRID_{name.upper()}={value!r} is not a rate limit: write it like 5/minute or 20 per 10 minutes."
            ) from None
    if not settings.ratelimit_storage_url.startswith(RATELIMIT_STORAGE_SCHEMES):
        raise ConfigError(
            f"GRID_RATELIMIT_STORAGE_URL={settings.ratelimit_storage_url!r} is not supported: use memory:// "
            "(one process) or redis://HOST:6379/0 (several workers or hosts)."
        )


def _check_photos(settings: Settings) -> None:
    """Photo limits and storage; overrides are checked too."""
    for name in ("photo_max_bytes", "photo_max_per_tip", "photo_max_request_bytes"):
        if getattr(settings, name) < 1:
            raise ConfigError(f"GRID_{name.upper()}={getattr(settings, name)} must be at least 1.")
    if not 1 <= settings.photo_max_pixels <= PHOTO_PIXELS_CEILING:
        raise ConfigError(
            f"GRID_PHOTO_MAX_PIXELS={settings.photo_max_pixels} must be 1..{PHOTO_PIXELS_CEILING} (default 50000000)."
        )
    if settings.photo_max_request_bytes < settings.photo_max_bytes:
        raise ConfigError("GRID_PHOTO_MAX_REQUEST_BYTES must be at least GRID_PHOTO_MAX_BYTES.")
    if not PHOTO_STORED_PX_RANGE[0] <= settings.photo_max_stored_px <= PHOTO_STORED_PX_RANGE[1]:
        low, high = PHOTO_STORED_PX_RANGE
        raise ConfigError(
            f"GRID_PHOTO_MAX_STORED_PX={settings.photo_max_stored_px} must be {low}..{high} pixels (default 2048; "
            "4096 keeps a 12 MP phone photo at full size)."
        )
    if settings.photo_store not in PHOTO_STORES:
        raise ConfigError(f"GRID_PHOTO_STORE={settings.photo_store!r} must be local or s3.")
    if settings.photo_store == "s3":
        if not settings.s3_bucket:
            raise ConfigError("GRID_S3_BUCKET is required when GRID_PHOTO_STORE=s3.")
        if settings.s3_endpoint_url and not settings.s3_endpoint_url.startswith(("https://", "http://")):
            raise ConfigError(
                f"GRID_S3_ENDPOINT_URL={settings.s3_endpoint_url!r} must start with https:// "
                "(or http:// for a server on a private network)."
            )
        if bool(settings.s3_access_key_id) != bool(settings.s3_secret_access_key):
            raise ConfigError(
                "Set both GRID_S3_ACCESS_KEY_ID and GRID_S3_SECRET_ACCESS_KEY, or neither (boto3's credential chain)."
            )


def _split_tags(value) -> tuple[str, ...]:
    """Tags from a comma-separated string (ASCII or Chinese commas, or 、) or a list; blanks dropped."""
    if isinstance(value, str):
        value = value.replace("，", ",").replace("、", ",").split(",")
    return tuple(t.strip() for t in value if t and t.strip())


def _tags(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    return _split_tags(_env(name, ",".join(default)))


def _check_households(settings: Settings) -> None:
    """Household tags, the link limit, the visit rules and the patrol filters; overrides are checked too."""
    tags = settings.household_tags
    if not tags:
        raise ConfigError("GRID_HOUSEHOLD_TAGS must name at least one tag, e.g. 留守老人,困难户.")
    if len(set(tags)) != len(tags):
        raise ConfigError(f"GRID_HOUSEHOLD_TAGS lists a tag twice: {','.join(tags)}.")
    if any(len(t) > 20 for t in tags):
        raise ConfigError("GRID_HOUSEHOLD_TAGS: each tag may be at most 20 characters.")
    if not 1 <= settings.link_limit <= 200:
        raise ConfigError(f"GRID_LINK_LIMIT={settings.link_limit} must be 1..200 households per member (default 15).")
    if not 1 <= settings.visit_target_days <= 366:
        raise ConfigError(f"GRID_VISIT_TARGET_DAYS={settings.visit_target_days} must be 1..366 (default 30).")
    ranges = {
        "visit_max_distance_m": (1.0, 10_000.0, "100"),
        "patrol_max_speed_mps": (0.5, 100.0, "15"),
        "patrol_max_accuracy_m": (1.0, 10_000.0, "100"),
        "patrol_simplify_m": (0.0, 100.0, "5"),
    }
    for name, (low, high, default) in ranges.items():
        value = getattr(settings, name)
        if not low <= value <= high:
            raise ConfigError(f"GRID_{name.upper()}={value} must be {low:g}..{high:g} (default {default}).")


def _check_workflow(settings: Settings) -> None:
    """The working-time calendar, the early-warning point and the notification worker's timings."""
    from server.workflow.calendar import CalendarError, calendar_from_settings

    try:
        calendar_from_settings(settings)
    except CalendarError as error:
        raise ConfigError(str(error)) from None
    if not 0 < settings.early_warning_fraction < 1:
        raise ConfigError(
            f"GRID_EARLY_WARNING_FRACTION={settings.early_warning_fraction} must be between 0 and 1 (default 0.75)."
        )
    if not 1 <= settings.notify_max_attempts <= 100:
        raise ConfigError(f"GRID_NOTIFY_MAX_ATTEMPTS={settings.notify_max_attempts} must be 1..100 (default 10).")
    ranges = {
        "worker_poll_seconds": (0.05, 3600.0, "2"),
        "escalation_interval_seconds": (1.0, 86_400.0, "60"),
        "notify_backoff_seconds": (0.01, 86_400.0, "30"),
        "notify_backoff_max_seconds": (0.01, 7 * 86_400.0, "3600"),
        "notify_lease_seconds": (0.5, 86_400.0, "60"),
        "notify_timeout_seconds": (0.1, 300.0, "10"),
        "sse_max_seconds": (1.0, 3600.0, "300"),
        "sse_poll_seconds": (0.05, 60.0, "1"),
    }
    for name, (low, high, default) in ranges.items():
        value = getattr(settings, name)
        if not low <= value <= high:
            raise ConfigError(f"GRID_{name.upper()}={value} must be {low:g}..{high:g} (default {default}).")
    if settings.notify_lease_seconds <= settings.notify_timeout_seconds:
        raise ConfigError(
            "GRID_NOTIFY_LEASE_SECONDS must be longer than GRID_NOTIFY_TIMEOUT_SECONDS: a delivery still waiting "
            "for its channel must not be handed to another worker."
        )


def _check_coverage(settings: Settings) -> None:
    """The coverage cache, windows, index weights and thresholds (server/coverage/indices.py) and the basemap URLs."""
    from server.coverage.indices import IndexConfigError, index_config

    if not 0 <= settings.coverage_cache_seconds <= 60:
        raise ConfigError(
            f"GRID_COVERAGE_CACHE_SECONDS={settings.coverage_cache_seconds} must be 0..60 (default 30): a new tip "
            "must show on the map within a minute."
        )
    if not 1 <= settings.coverage_patrol_days <= 366:
        raise ConfigError(f"GRID_COVERAGE_PATROL_DAYS={settings.coverage_patrol_days} must be 1..366 (default 7).")
    if not 1 <= settings.member_target_households <= 200:
        raise ConfigError(
            f"GRID_MEMBER_TARGET_HOUSEHOLDS={settings.member_target_households} must be 1..200 (default 11)."
        )
    if not 0 < settings.member_target_patrol_hours <= 168:
        raise ConfigError(
            f"GRID_MEMBER_TARGET_PATROL_HOURS={settings.member_target_patrol_hours} must be above 0, at most 168 "
            "(default 2)."
        )
    try:
        index_config(settings.index_weights, settings.index_thresholds)
    except IndexConfigError as error:
        raise ConfigError(str(error)) from None
    for name in ("map_tile_url", "map_label_url"):
        url = getattr(settings, name)
        if url and not (url.startswith(("https://", "http://")) and all(p in url for p in ("{z}", "{x}", "{y}"))):
            raise ConfigError(
                f"GRID_{name.upper()}={url!r} must be an http(s) tile URL with {{z}}, {{x}} and {{y}} placeholders "
                "(WGS-84/CGCS2000 web-mercator tiles such as 天地图 vec_w; GCJ-02 tiles would sit about 500 m off)."
            )
