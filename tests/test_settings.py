from __future__ import annotations

import pytest

from asahi.settings import SettingsError, load_settings


def test_defaults_need_no_configuration() -> None:
    settings = load_settings({})
    assert settings.database_url is None and settings.redis_url is None
    assert settings.pinecone_index == "asahi-vectors"
    assert settings.config.embeddings.dimension == 1024


def test_postgres_scheme_from_hosting_platforms_is_accepted() -> None:
    settings = load_settings({"DATABASE_URL": "postgres://u:p@db:5432/app", "ASAHI_ENCRYPTION_KEY": "0" * 64})
    assert settings.database_url == "postgresql+asyncpg://u:p@db:5432/app"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"ASAHI_ENCRYPTION_KEY": "short"}, "ASAHI_ENCRYPTION_KEY"),
        ({"DATABASE_URL": "postgres://db/app"}, "ASAHI_ENCRYPTION_KEY"),
        ({"DATABASE_URL": "mysql://db/app", "ASAHI_ENCRYPTION_KEY": "0" * 64}, "DATABASE_URL"),
        ({"REDIS_URL": "http://cache"}, "REDIS_URL"),
        ({"SMTP_HOST": "mail", "SMTP_PORT": "x"}, "SMTP_PORT"),
        ({"ASAHI_FROM_EMAIL": "nobody"}, "ASAHI_FROM_EMAIL"),
        ({"ASAHI_CONFIG": "/nonexistent.yaml"}, "ASAHI_CONFIG"),
        ({"OPENAI_BASE_URL": "ftp://x"}, "OPENAI_BASE_URL"),
    ],
)
def test_invalid_values_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        load_settings(env)


def test_rediss_is_accepted() -> None:
    assert load_settings({"REDIS_URL": "rediss://:pw@host:6380/0"}).redis_url == "rediss://:pw@host:6380/0"
