"""`/v1/log`: the audit log's signed checkpoint and its proofs, public by design.

DESIGN.md section 4: checkpoints and proofs by index are public, so a source can check its
own receipt without an account. They reveal the log's size and hashes, never an entry.
The entries themselves are for auditors and admins: `GET /v1/log/entries` pages them for a
logged-in auditor or admin. Anyone else is refused, an anonymous caller with 401 (counted,
not logged one by one, as DESIGN.md section 2 asks of anonymous refusals) and another role
with 403 and a `refused` entry in the log naming who asked.

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
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentAccount
from crypto.note import Signer
from vault import audit
from vault.audit import Action, Event
from vault.db import session_scope
from vault.errors import Forbidden, Invalid
from vault.logkey import load_log_signer
from vault.models import Account, Role
from vault.settings import Settings

router = APIRouter(prefix="/log", tags=["log"])

#: Largest index or size a request may name: the columns are signed 64-bit.
MAX_SIZE: Final = 2**63 - 1
#: Most entries one request returns: an auditor pages through a large log.
MAX_ENTRIES_PAGE: Final = 1000
#: The roles that may read entries (DESIGN.md section 4).
ENTRY_READERS: Final = frozenset({Role.AUDITOR, Role.ADMIN})
#: The reason a `refused` entry gives when another role asks for entries.
NOT_AN_AUDITOR: Final = "log-entries-not-an-auditor"

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


async def log_signer_of(request: Request) -> Signer:
    """`get_log_signer` for an async route: loaded (from the database, once) in a worker
    thread, so the event loop never waits on it."""
    signer = getattr(request.app.state, "log_signer", None)
    if isinstance(signer, Signer):
        return signer
    return await run_in_threadpool(get_log_signer, request, get_engine(request))


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


class EntriesPage(BaseModel):
    """Entries `start` to `end` (exclusive) as stored, each standard base64 of its RFC 8785
    bytes. Fewer than asked means the log holds fewer in that range."""

    start: int
    end: int
    entries: list[str]


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


@router.get("/entries")
def log_entries(engine: EngineDep, account: CurrentAccount, start: Size, end: Size) -> EntriesPage:
    """Entries with index in [start, end), at most MAX_ENTRIES_PAGE; auditors and admins only."""
    if account.role not in ENTRY_READERS:
        _refuse(engine, account)
    if not start <= end <= start + MAX_ENTRIES_PAGE:
        raise Invalid(f"ask for 0 to {MAX_ENTRIES_PAGE} entries, from start up to end")
    with session_scope(engine, readonly=True) as session:
        stored = audit.entries(session, start=start, end=end)
    return EntriesPage(start=start, end=end, entries=_encode(stored))


def _refuse(engine: Engine, account: Account) -> None:
    """Log that `account` asked for entries its role may not read, then refuse."""
    with session_scope(engine) as session:
        refused = Event(action=Action.REFUSED, actor=account.opaque_id, reason=NOT_AN_AUDITOR)
        audit.append(session, refused)
    raise Forbidden("only auditor and admin accounts may read the log's entries")


def _encode(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(node).decode("ascii") for node in hashes]
