"""Settings: the environment variables the guide names, and the typed configuration file, read once at start-up.

Every invalid value stops start-up with one line naming the variable (or the config key) and what is wrong with
it, so a bad deploy fails loudly at boot instead of at the first request.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from asahi.config import Config, SettingsError, load_config

__all__ = ["Settings", "SettingsError", "SmtpSettings", "load_settings"]
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: bool


@dataclass(frozen=True, slots=True)
class Settings:
    config: Config
    data_dir: Path
    database_url: str | None
    redis_url: str | None
    encryption_key: bytes | None
    # The key being rotated away from: still opens what it sealed until `asahi keys rotate-encryption` re-seals it.
    previous_encryption_key: bytes | None
    admin_secret: str | None
    openai_api_key: str | None
    openai_base_url: str | None
    anthropic_api_key: str | None
    anthropic_base_url: str | None
    cohere_api_key: str | None
    cohere_base_url: str | None
    pinecone_api_key: str | None
    pinecone_index: str
    pinecone_host: str | None
    pinecone_controller_host: str | None
    sendgrid_api_key: str | None
    sendgrid_base_url: str | None
    from_email: str
    smtp: SmtpSettings | None
    log_level: str
    environ: dict[str, str] = field(repr=False, default_factory=dict)
    cors_origins: tuple[str, ...] = ()  # ASAHI_CORS_ORIGINS; empty: no origin beyond the API's own


def _blank_to_none(value: str | None) -> str | None:
    return value if value not in (None, "") else None


def normalise_database_url(url: str) -> str:
    """Accept the forms hosting platforms hand out (`postgres://`) and pick the async driver."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise SettingsError("DATABASE_URL must be a URL such as postgresql://user:pass@host:5432/db")
    scheme = scheme.lower()
    if scheme in ("postgres", "postgresql", "postgresql+asyncpg"):
        return f"postgresql+asyncpg://{rest}"
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        return f"sqlite+aiosqlite://{rest}"
    raise SettingsError(f"DATABASE_URL scheme '{scheme}' is not supported (use postgresql:// or sqlite://)")


def _check_redis_url(url: str) -> str:
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise SettingsError("REDIS_URL must start with redis:// or rediss:// (TLS)")
    return url


def _check_url(name: str, url: str | None) -> str | None:
    if url is not None and urlsplit(url).scheme not in ("http", "https"):
        raise SettingsError(f"{name} must be an http:// or https:// URL")
    return url


def _encryption_key(raw: str | None, name: str = "ASAHI_ENCRYPTION_KEY") -> bytes | None:
    if raw is None:
        return None
    if not _HEX64.match(raw):
        raise SettingsError(f"{name} must be 64 hex characters (32 bytes); generate one with "
                            "python -c \"import secrets; print(secrets.token_hex(32))\"")
    return bytes.fromhex(raw)


def _smtp(env: dict[str, str], config: Config) -> SmtpSettings | None:
    host = _blank_to_none(env.get("SMTP_HOST"))
    if host is None:
        return None
    raw_port = env.get("SMTP_PORT") or str(config.notify.smtp_port)
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        raise SettingsError("SMTP_PORT must be a port number (1-65535)")
    starttls = (env.get("SMTP_STARTTLS") or "true").lower()
    if starttls not in ("true", "false", "1", "0"):
        raise SettingsError("SMTP_STARTTLS must be true or false")
    return SmtpSettings(
        host=host,
        port=int(raw_port),
        username=_blank_to_none(env.get("SMTP_USERNAME")),
        password=_blank_to_none(env.get("SMTP_PASSWORD")),
        starttls=starttls in ("true", "1"),
    )


def _cors_origins(raw: str | None) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in (raw or "").split(",") if o.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if origin != "*" and (parts.scheme not in ("http", "https") or not parts.netloc or parts.path):
            raise SettingsError(f"ASAHI_CORS_ORIGINS: '{origin}' is not an origin such as https://app.example.com "
                                "(scheme and host, no path) or *")
    return origins


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read settings from `environ` (the process environment by default)."""
    env = dict(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        return _blank_to_none(env.get(name))

    overlay = get("ASAHI_CONFIG")
    config = load_config(Path(overlay) if overlay else None)
    database_url = get("DATABASE_URL")
    log_level = (get("ASAHI_LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError("ASAHI_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR")
    encryption_key = _encryption_key(get("ASAHI_ENCRYPTION_KEY"))
    if database_url is not None and encryption_key is None:
        raise SettingsError("ASAHI_ENCRYPTION_KEY is required when DATABASE_URL is set (64 hex characters)")
    from_email = get("ASAHI_FROM_EMAIL") or "noreply@asahi.local"
    if "@" not in from_email:
        raise SettingsError("ASAHI_FROM_EMAIL must be an email address")
    return Settings(
        config=config,
        data_dir=Path(get("ASAHI_DATA_DIR") or ".asahi"),
        database_url=normalise_database_url(database_url) if database_url else None,
        redis_url=_check_redis_url(r) if (r := get("REDIS_URL")) else None,
        encryption_key=encryption_key,
        previous_encryption_key=_encryption_key(get("ASAHI_PREVIOUS_ENCRYPTION_KEY"), "ASAHI_PREVIOUS_ENCRYPTION_KEY"),
        admin_secret=get("ASAHI_ADMIN_SECRET"),
        openai_api_key=get("OPENAI_API_KEY"),
        openai_base_url=_check_url("OPENAI_BASE_URL", get("OPENAI_BASE_URL")),
        anthropic_api_key=get("ANTHROPIC_API_KEY"),
        anthropic_base_url=_check_url("ANTHROPIC_BASE_URL", get("ANTHROPIC_BASE_URL")),
        cohere_api_key=get("COHERE_API_KEY"),
        cohere_base_url=_check_url("COHERE_BASE_URL", get("COHERE_BASE_URL")),
        pinecone_api_key=get("PINECONE_API_KEY"),
        pinecone_index=get("PINECONE_INDEX") or config.vectors.pinecone_index,
        pinecone_host=_check_url("PINECONE_HOST", get("PINECONE_HOST")),
        pinecone_controller_host=_check_url("PINECONE_CONTROLLER_HOST", get("PINECONE_CONTROLLER_HOST")),
        sendgrid_api_key=get("SENDGRID_API_KEY"),
        sendgrid_base_url=_check_url("SENDGRID_BASE_URL", get("SENDGRID_BASE_URL")),
        from_email=from_email,
        smtp=_smtp(env, config),
        log_level=log_level,
        environ=env,
        cors_origins=_cors_origins(get("ASAHI_CORS_ORIGINS")),
    )
