"""The event schema: no entry ever holds a forbidden key or free text, each action has its
shape, and the encoding is canonical RFC 8785 that decodes to the same event."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from vault.audit.events import (
    _SHAPES,
    ANONYMOUS,
    FORBIDDEN_KEYS,
    MAX_SAFE_INTEGER,
    UNKNOWN,
    Action,
    Event,
    decode_event,
    encode_event,
)

OPAQUE = st.from_regex(r"\A[A-Za-z0-9_-]{16,64}\Z")
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "record": OPAQUE,
    "part": st.sampled_from(["header", "payload"]),
    "commitment": st.from_regex(r"\A[0-9a-f]{64}\Z"),
    "holders": st.lists(OPAQUE, min_size=1, max_size=5).map(tuple),
    "target": OPAQUE,
    "version": st.integers(min_value=0, max_value=MAX_SAFE_INTEGER),
    "reason": st.from_regex(r"\A[a-z][a-z0-9_.-]{0,47}\Z"),
    "count": st.integers(min_value=1, max_value=MAX_SAFE_INTEGER),
}
DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 1, 1))


@st.composite
def events(draw: st.DrawFn) -> Event:
    action = draw(st.sampled_from(list(Action)))
    required, optional = _SHAPES[action]
    names = required | {name for name in sorted(optional) if draw(st.booleans())}
    actors = [OPAQUE, st.just(ANONYMOUS)]
    if action is Action.LOGIN_FAILED:
        actors.append(st.just(UNKNOWN))
    fields = {name: draw(FIELDS[name]) for name in sorted(names)}
    return Event(action=action, actor=draw(st.one_of(actors)), day=draw(DAYS), **fields)


@given(events())
def test_no_entry_holds_a_forbidden_key_or_free_text(event: Event) -> None:
    entry = encode_event(event)
    fields = json.loads(entry)
    assert not FORBIDDEN_KEYS & set(fields)
    assert set(fields) <= set(Event.model_fields)
    assert entry.isascii()  # ids, slugs, hex and enums only: no room for a name or a message
    assert decode_event(entry) == event
    assert json.dumps(fields, sort_keys=True, separators=(",", ":")).encode() == entry


@given(events(), st.sampled_from(sorted(FORBIDDEN_KEYS)), st.text())
def test_a_forbidden_field_cannot_be_added(event: Event, key: str, value: str) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Event.model_validate({**event.model_dump(), key: value})


@given(st.text().filter(lambda s: s not in (ANONYMOUS, UNKNOWN) and len(s) < 16))
def test_a_typed_name_is_not_an_actor(name: str) -> None:
    with pytest.raises(ValidationError):
        Event(action=Action.LOGIN_FAILED, actor=name)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"action": "record.fetched", "record": "r" * 16}, "needs part"),
        ({"action": "login", "record": "r" * 16}, "does not take record"),
        ({"action": "login", "actor": UNKNOWN}, 'only a failed login has the actor "unknown"'),
        ({"action": "refused", "reason": "Not allowed, Alice!"}, "should match pattern"),
        ({"action": "record.submitted", "commitment": "AB" * 32}, "should match pattern"),
        ({"action": "made.up"}, "Input should be"),
        ({"action": "roster.published", "version": 2**53}, "less than or equal to"),
    ],
    ids=[
        "missing-field",
        "foreign-field",
        "unknown-actor",
        "free-text",
        "hex-case",
        "action",
        "unsafe-integer",
    ],
)
def test_malformed_events_are_refused(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Event.model_validate({"actor": "acct-0000000000000001", **fields})


def test_holders_have_one_encoding() -> None:
    a, b = "a" * 16, "b" * 16
    common = {"action": "record.submitted", "actor": ANONYMOUS, "record": "r" * 16}
    common["commitment"] = "0" * 64
    first = Event.model_validate({**common, "holders": (b, a, b)})
    assert encode_event(first) == encode_event(Event.model_validate({**common, "holders": (a, b)}))


@pytest.mark.parametrize(
    "entry",
    [
        b'{"actor":"anonymous","action":"login"}',  # keys out of order
        b'{"action":"login", "actor":"anonymous","day":"2026-01-01"}',  # a space
        b'{"action":"roster.published","actor":"anonymous","day":"2026-01-01","version":1.0}',
        b"\xff",
    ],
    ids=["key-order", "whitespace", "float", "not-utf8"],
)
def test_only_canonical_entries_decode(entry: bytes) -> None:
    with pytest.raises(ValueError, match=r"canonical|not JSON"):
        decode_event(entry)
