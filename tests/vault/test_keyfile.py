"""Private key files: one key however many workers start at once, and only private files read."""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vault import keyfile
from vault.accounts import sealkey
from vault.errors import ConfigError


def test_workers_starting_at_once_share_one_sealing_key(tmp_path: Path) -> None:
    """Regression: a worker could read the file another had created but not yet written."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: sealkey.load_or_create(tmp_path), range(32)))
    assert len(keys) == 1
    (key,) = keys
    assert len(key) == sealkey.KEY_BYTES
    assert sealkey.load_or_create(tmp_path) == key
    assert os.stat(tmp_path / sealkey.FILE_NAME).st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [sealkey.FILE_NAME]  # no temporaries left


def test_a_key_readable_by_others_is_refused_not_tightened(tmp_path: Path) -> None:
    sealkey.load_or_create(tmp_path)
    path = tmp_path / sealkey.FILE_NAME
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        sealkey.load_or_create(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_symlinked_key_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    sealkey.load_or_create(elsewhere)
    data = tmp_path / "data"
    data.mkdir()
    (data / sealkey.FILE_NAME).symlink_to(elsewhere / sealkey.FILE_NAME)
    with pytest.raises(ConfigError, match="cannot open"):
        sealkey.load_or_create(data)


def test_a_truncated_sealing_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / sealkey.FILE_NAME
    path.write_bytes(b"short")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="32-byte key"):
        sealkey.load_or_create(tmp_path)


def test_a_directory_in_place_of_a_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "key").mkdir(mode=0o700)
    with pytest.raises(ConfigError, match="not a regular file"):
        keyfile.load_or_create(tmp_path / "key", make=lambda: b"k", what="the test key")


def test_an_unwritable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        missing = tmp_path / "no" / "such" / "dir"  # root ignores modes; use a missing dir
    else:
        missing = tmp_path / "ro"
        missing.mkdir(mode=0o500)
    with pytest.raises(ConfigError, match="cannot create the test key"):
        keyfile.load_or_create(missing / "key", make=lambda: b"k", what="the test key")
