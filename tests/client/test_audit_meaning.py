"""What the log's entries mean (client.meaning): fetches and grants only by holders."""

from __future__ import annotations

from typing import Any

import pytest

from client.meaning import Violation, check_meaning, decode_entries

CW1, CW2, CW3, ADMIN = (f"{name}-opaque-id-0000" for name in ("cw1", "cw2", "cw3", "admin"))
RECORD, OTHER = "record-opaque-id-0001", "record-opaque-id-0002"


def _submitted(record: str = RECORD, *holders: str) -> dict[str, Any]:
    return {"action": "record.submitted", "actor": "anonymous", "record": record,
            "holders": sorted(holders or (CW1,)), "commitment": "0" * 64}  # fmt: skip


def _fetched(actor: str, record: str = RECORD) -> dict[str, Any]:
    return {"action": "record.fetched", "actor": actor, "record": record, "part": "header"}


def _granted(actor: str, target: str, record: str = RECORD) -> dict[str, Any]:
    return {"action": "record.granted", "actor": actor, "record": record, "target": target}


def _revoked(actor: str, target: str) -> dict[str, Any]:
    return {"action": "record.revoked", "actor": actor, "record": RECORD, "target": target}


def test_an_honest_history_has_no_violations() -> None:
    events = [
        _submitted(RECORD, CW1),
        _fetched(CW1),
        _granted(CW1, CW2),
        _fetched(CW2),
        _revoked(CW1, CW2),
        _submitted(OTHER, CW2),
        _fetched(CW2, OTHER),
    ]
    assert check_meaning(events) == []


def _no_fetch(index: int, actor: str) -> Violation:
    return Violation(
        index, f"{actor} fetched the header of record {RECORD} without holding it then"
    )


def _no_grant(index: int, actor: str, target: str, record: str = RECORD) -> Violation:
    return Violation(index, f"{actor} granted record {record} to {target} without holding it")


DELETED = {"action": "record.deleted", "actor": CW1, "record": RECORD}
DISABLED = {"action": "account.disabled", "actor": ADMIN, "target": CW1}
IMPOSSIBLE: dict[str, tuple[list[dict[str, Any]], Violation]] = {
    "fetch-by-non-holder": ([_submitted(), _fetched(CW2)], _no_fetch(1, CW2)),
    "fetch-before-submission": ([_fetched(CW1)], _no_fetch(0, CW1)),
    "grant-by-non-holder": ([_submitted(), _granted(CW2, CW3)], _no_grant(1, CW2, CW3)),
    "grant-by-admin-holding-nothing": (
        [_granted(ADMIN, CW2, OTHER)],
        _no_grant(0, ADMIN, CW2, OTHER),
    ),
    "fetch-after-revoke": (
        [_submitted(), _granted(CW1, CW2), _revoked(CW1, CW2), _fetched(CW2)],
        _no_fetch(3, CW2),
    ),
    "fetch-after-delete": ([_submitted(), DELETED, _fetched(CW1)], _no_fetch(2, CW1)),
    "fetch-after-disable": ([_submitted(), DISABLED, _fetched(CW1)], _no_fetch(2, CW1)),
    "submitted-twice": (
        [_submitted(), _submitted()],
        Violation(1, f"record {RECORD} was submitted twice"),
    ),
}


@pytest.mark.parametrize("case", IMPOSSIBLE)
def test_each_impossible_event_is_named(case: str) -> None:
    events, found = IMPOSSIBLE[case]
    assert check_meaning(events) == [found]


def test_a_grant_by_a_non_holder_is_reported_once_not_at_every_later_fetch() -> None:
    events = [_submitted(), _granted(CW2, CW3), _fetched(CW3), _fetched(CW3)]
    assert [v.index for v in check_meaning(events)] == [1]


def test_messages_use_roster_names_when_known() -> None:
    (violation,) = check_meaning([_submitted(), _fetched(CW2)], names={CW2: "bob"})
    assert str(violation).startswith(f"entry 1: bob ({CW2}) fetched the header")


@pytest.mark.parametrize("entry", [b"not json", b"[1, 2]", b"\xff"])
def test_an_entry_that_is_no_json_object_is_refused(entry: bytes) -> None:
    with pytest.raises(ValueError, match="entry 1 is not"):
        decode_entries([b'{"action":"login"}', entry])
