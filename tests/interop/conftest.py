"""Fixtures for the interoperability tests: one per peer, and a ring of cached key pairs.

A missing peer FAILS the tests that need it, with the command that installs it; it never
skips them, so a green run always means every direction was exercised.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.interop.peers import (
    JS_DIR,
    NPM_CI_COMMAND,
    AgeCli,
    Ours,
    Peer,
    Pyrage,
    Typage,
)
from tests.interop.support import LOW_SCRYPT_WORK_FACTOR, PEER_FIXTURES, KeyRing


@pytest.fixture(scope="session")
def keyring() -> KeyRing:
    return KeyRing()


@pytest.fixture(scope="session")
def ours() -> Ours:
    return Ours(scrypt_work_factor=LOW_SCRYPT_WORK_FACTOR)


@pytest.fixture(scope="session")
def age_cli() -> AgeCli:
    missing = [name for name in ("age", "age-keygen") if shutil.which(name) is None]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found on PATH: the interoperability tests need the "
            "Debian age package; install it with `apt-get install -y age`",
            pytrace=False,
        )
    return AgeCli()


@pytest.fixture(scope="session")
def pyrage_peer() -> Pyrage:
    return Pyrage()


@pytest.fixture(scope="session")
def typage() -> Iterator[Typage]:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "node not found on PATH: the hybrid interoperability tests run typage with Node 20+",
            pytrace=False,
        )
    if not (JS_DIR / "node_modules" / "age-encryption" / "package.json").is_file():
        pytest.fail(
            f"typage (npm age-encryption) is not installed in {JS_DIR}/node_modules: "
            f"run `{NPM_CI_COMMAND}` from the repository root",
            pytrace=False,
        )
    service = Typage(node, scrypt_work_factor=LOW_SCRYPT_WORK_FACTOR)
    yield service
    service.close()


@pytest.fixture
def peer(request: pytest.FixtureRequest) -> Peer:
    """The peer named by the test's indirect parameter ("age", "pyrage" or "typage")."""
    found: Peer = request.getfixturevalue(PEER_FIXTURES[request.param])
    return found
