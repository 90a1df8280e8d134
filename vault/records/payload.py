"""Serving a record's payload: chunk by chunk from `payload_chunk`, from any offset.

A payload may be hundreds of MiB, so it is never held whole: each chunk is read in its
own short read-only transaction as the response consumes it, and memory stays at one
chunk (at most `Settings.max_chunk_bytes`). No transaction stays open while bytes travel.

A fetch from offset 0 is logged (`record.fetched`, part payload) before the first byte is
served; a resumed fetch (a later offset) continues one already logged, so it is not
logged again. A record deleted while it streams ends short, and the client, which knows
the size, sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from vault import audit
from vault.audit import Action, Event
from vault.db import session_scope
from vault.errors import Invalid
from vault.models import Account, PayloadChunk
from vault.records import access


class RangeNotSatisfiable(Invalid):
    """The requested start is at or past the end of the payload (RFC 9110 15.5.17)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the payload is {size} bytes; a range must start below that")
        self.size = size


@dataclass(frozen=True, slots=True)
class PayloadStream:
    """Bytes [start, size) of a payload, as an iterator of chunks the caller consumes."""

    start: int
    size: int
    chunks: Iterator[bytes]


def open_payload(engine: Engine, account: Account, record_id: str, *, start: int) -> PayloadStream:
    """Check that `account` holds the record, log the fetch if `start` is 0, and return
    the stream from `start`. Raises as `access.holding` does, and `RangeNotSatisfiable`."""
    with access.holding(engine, account, record_id) as (session, record):
        if not 0 <= start < record.size:
            raise RangeNotSatisfiable(record.size)
        if start == 0:
            event = Event(
                action=Action.RECORD_FETCHED,
                actor=account.opaque_id,
                record=record.id,
                part="payload",
            )
            audit.append(session, event)
    return PayloadStream(start, record.size, _chunks(engine, record.id, start))


def _chunks(engine: Engine, record_id: str, start: int) -> Iterator[bytes]:
    offset_column, data_column = col(PayloadChunk.offset), col(PayloadChunk.data)
    of_record = col(PayloadChunk.record_id) == record_id
    # The chunk holding `start` is the last one at or before it; then each follows the
    # one before exactly, since uploads append at the offset the server holds.
    first = (
        sa.select(offset_column, data_column)
        .where(of_record, offset_column <= start)
        .order_by(offset_column.desc())
        .limit(1)
    )
    with session_scope(engine, readonly=True) as session:
        row = session.execute(first).one_or_none()
    if row is None:
        return
    offset, data = int(row[0]), bytes(row[1])
    yield data[start - offset :]
    offset += len(data)
    following = sa.select(data_column).where(of_record, offset_column == sa.bindparam("at"))
    while True:
        with session_scope(engine, readonly=True) as session:
            found = session.execute(following, {"at": offset}).scalar_one_or_none()
        if found is None:
            return
        data = bytes(found)
        offset += len(data)
        yield data
