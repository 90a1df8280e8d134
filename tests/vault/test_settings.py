"""Settings: a bad data dir, database URL or KDF profile gets a message an operator can act on."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from crypto.profile import PRODUCTION, TEST_NAME
from vault.errors import ConfigError, VaultError
from vault.settings import Settings, load_settings, prepare_data_dir

PASSWORD = "canary-pw-7f3a"


@pytest.fixture(autouse=True)
def _no_tvault_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TVAULT_"):
            monkeypatch.delenv(name)


def _config_error(**values: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(**values)
    return caught.value.diagnostics()


def test_the_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d")
    url = settings.engine_url()
    assert url.drivername == "sqlite"
    assert url.database == str(tmp_path / "d" / "vault.sqlite3")
    assert settings.dev is False
    assert settings.kdf == PRODUCTION


def test_a_relative_data_dir_becomes_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(data_dir="rel").data_dir == tmp_path / "rel"


def test_settings_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TVAULT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TVAULT_DATABASE_URL", "postgresql://u@db.example:5432/vault")
    monkeypatch.setenv("TVAULT_DEV", "true")
    monkeypatch.setenv("TVAULT_KDF_PROFILE", TEST_NAME)
    settings = load_settings()
    assert settings.data_dir == tmp_path
    assert str(settings.engine_url()) == "postgresql+psycopg://u@db.example:5432/vault"
    assert settings.kdf.is_test


def test_flags_override_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TVAULT_DATA_DIR", "/nonexistent/elsewhere")
    assert load_settings(data_dir=tmp_path).data_dir == tmp_path


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://u@h/db",
        "postgres://u@h/db",
        "postgresql+psycopg://u@h/db",
    ],
)
def test_postgresql_urls_are_normalised_to_psycopg_3(given: str) -> None:
    url = load_settings(database_url=given).engine_url()
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.database) == ("h", "db")


def test_a_sqlite_url_path_becomes_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = load_settings(database_url="sqlite+pysqlite:///v.db").engine_url()
    assert (url.drivername, url.database) == ("sqlite", str(tmp_path / "v.db"))


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "is empty"),
        ("not a url", "is not a database URL"),
        (f"mysql://u:{PASSWORD}@h/db", "the mysql database is not supported"),
        (f"postgresql+psycopg2://u:{PASSWORD}@h/db", "the psycopg2 driver is not supported"),
        (f"postgresql+asyncpg://u:{PASSWORD}@h/db", "the asyncpg driver is not supported"),
        ("sqlite://", "in-memory SQLite database would lose every record"),
        ("sqlite:///:memory:", "in-memory SQLite database would lose every record"),
        ("sqlite:///v.db?timeout=1", "takes only a file path"),
    ],
)
def test_an_unsupported_database_url_says_why(url: str, says: str) -> None:
    message = _config_error(database_url=url)
    assert "TVAULT_DATABASE_URL" in message
    assert says in message
    assert PASSWORD not in message


def test_a_database_password_is_secret() -> None:
    settings = load_settings(database_url=f"postgresql://u:{PASSWORD}@h/db")
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings.engine_url())
    assert settings.engine_url().password == PASSWORD


def test_the_test_kdf_profile_is_refused_outside_dev() -> None:
    message = _config_error(kdf_profile=TEST_NAME)
    assert "TVAULT_KDF_PROFILE" in message
    assert "only allowed in development (--dev)" in message
    assert load_settings(kdf_profile=TEST_NAME, dev=True).kdf.is_test


def test_an_unknown_kdf_profile_is_refused() -> None:
    assert "unknown KDF profile 'fast'" in _config_error(kdf_profile="fast", dev=True)


@pytest.mark.parametrize("name", ["max_body_bytes", "max_upload_bytes"])
def test_limits_must_be_positive(name: str) -> None:
    assert f"TVAULT_{name.upper()}" in _config_error(**{name: 0})


def test_every_problem_is_listed_at_once() -> None:
    message = _config_error(database_url="mysql://h/db", kdf_profile="test", max_body_bytes=-1)
    assert message.count("\n  ") == 3


def test_unknown_settings_are_refused() -> None:
    assert "datadir" in _config_error(datadir="/tmp/x")


def test_config_error_is_a_vault_error() -> None:
    assert issubclass(ConfigError, VaultError)


def _settings(path: Path) -> Settings:
    return load_settings(data_dir=path)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_missing_data_dir_is_created_private(tmp_path: Path) -> None:
    path = prepare_data_dir(_settings(tmp_path / "a" / "data"))
    assert path.is_dir()
    assert _mode(path) == 0o700


def test_the_umask_does_not_change_the_data_dir_mode(tmp_path: Path) -> None:
    old = os.umask(0o277)  # would leave the owner without write permission
    try:
        path = prepare_data_dir(_settings(tmp_path / "data"))
    finally:
        os.umask(old)
    assert _mode(path) == 0o700


def test_a_private_data_dir_is_reused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(mode=0o700)
    (tmp_path / "data" / "kept").write_text("x")
    prepare_data_dir(_settings(tmp_path / "data"))
    assert (tmp_path / "data" / "kept").read_text() == "x"
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["kept"]


def test_a_file_is_not_a_data_dir(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("")
    with pytest.raises(ConfigError, match="exists but is not a directory"):
        prepare_data_dir(_settings(tmp_path / "data"))


def test_a_data_dir_under_a_file_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"cannot create the data dir .*: Not a directory"):
        prepare_data_dir(_settings(tmp_path / "file" / "data"))


def test_a_data_dir_open_to_others_is_refused_not_fixed(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.mkdir()
    path.chmod(0o755)
    with pytest.raises(ConfigError, match=r"has mode 0755.*chmod 700"):
        prepare_data_dir(_settings(path))
    assert _mode(path) == 0o755


def test_a_data_dir_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    other = os.geteuid() + 1
    monkeypatch.setattr(os, "geteuid", lambda: other)
    with pytest.raises(ConfigError, match=f"not to the user running the vault \\(uid {other}\\)"):
        prepare_data_dir(_settings(path))


def test_an_unwritable_data_dir_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root writes through permission bits, so the refusal of the write is simulated.
    def refuse(**_: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(ConfigError, match="is not writable: Permission denied"):
        prepare_data_dir(_settings(tmp_path / "data"))
