"""`/v1/log`: the audit log's signed checkpoint and its proofs, public by design.

DESIGN.md section 4: checkpoints and proofs by index are public, so a source can check its
own receipt without an account. They reveal the log's size and hashes, never an entry.
The entries themselves are for auditors and admins; their listing waits for the accounts
work (it needs an auditor's login) and is not served here yet.

The routes read `app.state.engine` and `app.state.log_signer`. `create_app` sets them when
given; otherwise the engine is the one the app's lifespan built, and the log key is loaded
(`vault.logkey.load_log_signer`) on first use. `tvault serve` should load the key at start,
so a bad key file stops the start instead of failing the first request.

Vault errors map to problems in `api.problems`: an impossible request (an index not below
the tree size, size1 of 0 or above size2) is `Invalid`, a tree larger than the log is
`NotFound`.
"""

from __future__ import annotations

import base64
import threading
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from crypto.note import Signer
from vault import audit
from vault.db import session_scope
from vault.logkey import load_log_signer
from vault.settings import Settings

router = APIRouter(prefix="/log", tags=["log"])

#: Largest index or size a request may name: the columns are signed 64-bit.
MAX_SIZE: Final = 2**63 - 1

_signer_lock = threading.Lock()


def get_engine(request: Request) -> Engine:
    engine = request.app.state.engine
    assert isinstance(engine, Engine)
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def get_log_signer(request: Request, engine: EngineDep) -> Signer:
    state = request.app.state
    with _signer_lock:
        signer = getattr(state, "log_signer", None)
        if signer is None:
            settings = state.settings
            assert isinstance(settings, Settings)
            signer = state.log_signer = load_log_signer(settings, engine)
    assert isinstance(signer, Signer)
    return signer


LogSignerDep = Annotated[Signer, Depends(get_log_signer)]
Size = Annotated[int, Query(ge=0, le=MAX_SIZE)]


class InclusionProof(BaseModel):
    """The inclusion proof of entry `index` in the tree of `tree_size` (RFC 9162 2.1.3)."""

    index: int
    tree_size: int
    #: The proof hashes, standard base64, leaf to root.
    hashes: list[str]


class ConsistencyProof(BaseModel):
    """The proof that the tree of `size2` extends the tree of `size1` (RFC 9162 2.1.4)."""

    size1: int
    size2: int
    #: The proof hashes, standard base64.
    hashes: list[str]


class CheckpointResponse(PlainTextResponse):
    media_type = "text/plain; charset=utf-8"


@router.get(
    "/checkpoint",
    response_class=CheckpointResponse,
    responses={200: {"content": {"text/plain; charset=utf-8": {}}}},
)
def checkpoint(engine: EngineDep, signer: LogSignerDep) -> CheckpointResponse:
    """The latest checkpoint as a C2SP signed note, signed afresh if the log grew."""
    with session_scope(engine, readonly=True) as session:
        latest = audit.latest_checkpoint(session)
        current = latest is not None and latest.tree_size == audit.tree_size(session)
    if latest is None or not current:
        with session_scope(engine) as session:
            note = audit.sign_checkpoint(session, signer)
    else:
        note = latest.note
    return CheckpointResponse(note)


@router.get("/proof/inclusion")
def inclusion_proof(engine: EngineDep, index: Size, tree_size: Size) -> InclusionProof:
    """The inclusion proof of entry `index` in the tree of `tree_size`."""
    with session_scope(engine, readonly=True) as session:
        proof = audit.inclusion_proof(session, index=index, tree_size=tree_size)
    return InclusionProof(index=index, tree_size=tree_size, hashes=_encode(proof))


@router.get("/proof/consistency")
def consistency_proof(engine: EngineDep, size1: Size, size2: Size) -> ConsistencyProof:
    """The proof that the tree of `size2` extends the tree of `size1`."""
    with session_scope(engine, readonly=True) as session:
        proof = audit.consistency_proof(session, size1=size1, size2=size2)
    return ConsistencyProof(size1=size1, size2=size2, hashes=_encode(proof))


def _encode(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(node).decode("ascii") for node in hashes]
