"""`tvault reply RECORD --message TEXT`: a signed reply the source reads with the codename.

The reply recipient is taken from the report itself, opened here (a logged fetch, its
proof and the payload commitment checked), never from the server: a server that swapped
it would have to swap the report, which the commitment catches. The reply is a signed
note (`crypto.messages.sign_reply`) sealed as one age file to the source's reply
recipient and to the record's current holders, whose recipients come from the verified
staff roster, so colleagues read it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from client.casework import Desk, seal_small
from client.errors import ClientError
from client.opening import read_report
from crypto import messages


@dataclass(frozen=True)
class Sent:
    record: str
    sequence: int
    recipients: int


def reply(desk: Desk, record: str, message: str) -> Sent:
    """Sign, seal and post a reply to the source of the report `record`.

    Raises `ClientError` if the report does not verify or carries no reply recipient.
    """
    if not message.strip():
        raise ClientError("the reply is empty")
    fetched, report, _ = read_report(desk, record)
    if report.reply is None:
        raise ClientError(f"the report {record} carries no reply recipient; it cannot be answered")
    thread = desk.server.call("GET", f"/records/{record}/thread", auth=True)
    try:
        sequence = 1 + max((int(r["sequence"]) for r in thread.get("replies", [])), default=0)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ClientError(f"the server sent a malformed thread for {record}") from None
    try:
        signed = messages.sign_reply(
            record=record,
            sequence=sequence,
            author=str(desk.me["id"]),
            message=message,
            signing_key=desk.identity().signing_key,
        )
    except ValueError as exc:
        raise ClientError(str(exc)) from None
    recipients = [report.reply.recipient, *desk.recipients_of(fetched.holders)]
    sealed = seal_small(signed, recipients)
    posted = desk.server.call("POST", f"/records/{record}/replies", {"sealed": sealed}, auth=True)
    filed = posted.get("sequence") if isinstance(posted, dict) else None
    if filed != sequence:
        raise ClientError(
            f"the server filed the reply as number {filed}, not {sequence}: another reply "
            "crossed it, so its signed number is wrong; the source will see it refused"
        )
    return Sent(record, sequence, len(recipients))
