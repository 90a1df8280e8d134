"""`/v1/log`: the checkpoint is a signed note the log key opens, proofs verify against it,
and impossible or out-of-range requests are problems, never a 500."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from crypto.checkpoint import Checkpoint, open_checkpoint
from crypto.merkle import verify_consistency, verify_inclusion
from crypto.merkle.rfc6962 import EMPTY_ROOT, hash_leaf
from crypto.note import Signer
from tests.db import db_settings, engine, postgresql, sqlite_template
from vault.audit import Action, Event, append_many, entries, tree_size
from vault.db import session_scope
from vault.logkey import LOG_KEY_FILE_NAME
from vault.models import ServerKey, metadata
from vault.settings import Settings

__all__ = ["db_settings", "engine", "postgresql", "sqlite_template"]

ORIGIN = "testimony-vault/feedfacecafebeef"
PROBLEM = "application/problem+json"


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)


@pytest.fixture
def client(db_settings: Settings, engine: Engine, signer: Signer) -> Iterator[TestClient]:
    with TestClient(create_app(db_settings, engine=engine, log_signer=signer)) as test_client:
        yield test_client


def _grow(engine: Engine, count: int) -> None:
    with session_scope(engine) as session:
        start = tree_size(session)
        events = [
            Event(
                action=Action.ROSTER_PUBLISHED, actor="anonymous", day=date(2026, 1, 1), version=n
            )
            for n in range(start, start + count)
        ]
        append_many(session, events)


def _checkpoint(client: TestClient, signer: Signer) -> Checkpoint:
    response = client.get("/v1/log/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    checkpoint, _ = open_checkpoint(response.content, origin=ORIGIN, log=signer.verifier)
    return checkpoint


def _hashes(body: dict[str, object]) -> list[bytes]:
    hashes = body["hashes"]
    assert isinstance(hashes, list)
    return [base64.b64decode(h, validate=True) for h in hashes]


def test_the_checkpoint_follows_the_log(client: TestClient, engine: Engine, signer: Signer) -> None:
    assert _checkpoint(client, signer) == Checkpoint(ORIGIN, 0, EMPTY_ROOT)
    _grow(engine, 13)
    first = client.get("/v1/log/checkpoint").content
    assert client.get("/v1/log/checkpoint").content == first  # signed once, then served
    assert _checkpoint(client, signer).tree_size == 13
    with session_scope(engine, readonly=True) as session:
        stored = session.execute(
            sa.select(sa.func.count()).select_from(metadata.tables["checkpoint"])
        )
        assert stored.scalar_one() == 2  # sizes 0 and 13


def test_proofs_verify_against_the_checkpoints(
    client: TestClient, engine: Engine, signer: Signer
) -> None:
    _grow(engine, 6)
    old = _checkpoint(client, signer)
    _grow(engine, 15)
    new = _checkpoint(client, signer)
    with session_scope(engine, readonly=True) as session:
        stored = entries(session, start=0, end=new.tree_size)
    for index in (0, 5, 20):
        response = client.get(
            "/v1/log/proof/inclusion", params={"index": index, "tree_size": new.tree_size}
        )
        assert response.status_code == 200
        body = response.json()
        assert (body["index"], body["tree_size"]) == (index, 21)
        verify_inclusion(
            leaf_hash=hash_leaf(stored[index]),
            index=index,
            tree_size=new.tree_size,
            proof=_hashes(body),
            root=new.root_hash,
        )
    response = client.get("/v1/log/proof/consistency", params={"size1": 6, "size2": 21})
    assert response.status_code == 200
    verify_consistency(
        size1=old.tree_size,
        size2=new.tree_size,
        proof=_hashes(response.json()),
        root1=old.root_hash,
        root2=new.root_hash,
    )


@pytest.mark.parametrize(
    ("path", "params", "status", "detail"),
    [
        ("inclusion", {"index": "x", "tree_size": 3}, 422, None),
        ("inclusion", {"tree_size": 3}, 422, None),
        ("inclusion", {"index": -1, "tree_size": 3}, 422, None),
        ("inclusion", {"index": 0, "tree_size": 2**64}, 422, None),
        ("inclusion", {"index": 3, "tree_size": 3}, 422, "index 3 is not below tree_size 3"),
        ("inclusion", {"index": 0, "tree_size": 4}, 404, "the log has 3 entries"),
        ("consistency", {"size1": 0, "size2": 3}, 422, "no consistency proof exists"),
        ("consistency", {"size1": 3, "size2": 2}, 422, "no consistency proof exists"),
        ("consistency", {"size1": 1, "size2": 9}, 404, "the log has 3 entries"),
    ],
    ids=[
        "not-a-number",
        "missing",
        "negative",
        "beyond-int64",
        "index-at-size",
        "size-beyond-log",
        "from-empty",
        "shrinking",
        "beyond-log",
    ],
)
def test_bad_proof_requests_are_problems(
    client: TestClient,
    engine: Engine,
    path: str,
    params: dict[str, object],
    status: int,
    detail: str | None,
) -> None:
    _grow(engine, 3)
    response = client.get(f"/v1/log/proof/{path}", params=params)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    if detail is not None:
        assert detail in response.json()["detail"]


def test_without_a_given_signer_the_log_key_is_loaded_from_the_data_dir(
    db_settings: Settings, engine: Engine
) -> None:
    with TestClient(create_app(db_settings, engine=engine)) as client:
        note = client.get("/v1/log/checkpoint")
        assert note.status_code == 200
    assert (db_settings.data_dir / LOG_KEY_FILE_NAME).exists()
    with session_scope(engine, readonly=True) as session:
        (key,) = session.execute(sa.select(ServerKey.name)).scalars()  # type: ignore[call-overload]
    assert note.text.startswith(key + "\n0\n")
