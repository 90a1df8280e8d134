"""`report/v1` (DESIGN.md section 8): what validates, what is refused and how it is named."""

from __future__ import annotations

import copy
import json
import unicodedata
from pathlib import Path
from typing import Any, Literal

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from crypto.age import generate_identity, recipient_of
from crypto.envelope import open_report_plaintext, seal_report_plaintext
from vault.errors import Invalid
from vault.report import (
    MAX_REPORT_BYTES,
    Consent,
    Report,
    encode_report,
    json_schema,
    parse_report,
    template,
)

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "vault" / "report.schema.json"
SECRET = "비밀스러운값"  # submitted text that must never appear in an error message


def _minimal() -> dict[str, Any]:
    return {
        "schema": "report/v1",
        "language": "ko",
        "detainee": {"name_hangul": "홍길동"},
        "source": {"relationship": "어머니", "knowledge": "direct"},
        "narrative": "",
    }


def _with(path: str, value: object) -> dict[str, Any]:
    """The minimal report with `value` set at the dotted `path` (ints index lists)."""
    document = copy.deepcopy(_minimal())
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[int(last) if last.isdigit() else last] = value
    return document


def _problems(document: object) -> str:
    with pytest.raises(Invalid) as caught:
        parse_report(json.dumps(document, ensure_ascii=False))
    return str(caught.value)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_each_template_is_a_valid_report(lang: Literal["ko", "en"]) -> None:
    text = template(lang)
    report = parse_report(text)
    assert report.language == lang
    assert text.endswith("\n")
    assert "\\u" not in text  # Hangul is written as Hangul


def test_the_korean_template_is_in_korean_and_fictional() -> None:
    report = parse_report(template("ko"))
    assert report.detainee.name_hangul == "홍길동"
    assert "예시" in report.narrative


def test_a_template_grants_no_consent_and_has_no_reply_block() -> None:
    for lang in ("ko", "en"):
        report = parse_report(template(lang))
        assert report.consent == Consent()
        assert report.reply is None


def test_an_unknown_template_language_is_refused() -> None:
    with pytest.raises(ValueError, match="ko or en"):
        template("fr")  # type: ignore[arg-type]


def test_consent_defaults_to_no() -> None:
    consent = parse_report(json.dumps(_minimal())).consent
    assert not consent.share_with_un_working_groups
    assert not consent.publish
    assert not consent.recontact


def test_the_committed_schema_file_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json_schema(), (
        "regenerate it: python -m vault.report > vault/report.schema.json"
    )


def test_the_schema_forbids_unknown_fields_and_names_the_version() -> None:
    schema = json.loads(json_schema())
    assert schema["additionalProperties"] is False
    assert schema["properties"]["schema"]["const"] == "report/v1"
    assert "narrative" in schema["required"]


def test_text_is_nfc_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", "홍길동")
    assert decomposed != "홍길동"
    report = parse_report(json.dumps(_with("detainee.name_hangul", decomposed)))
    assert report.detainee.name_hangul == "홍길동"


def test_free_text_keeps_newlines_and_tabs() -> None:
    report = parse_report(json.dumps(_with("narrative", "첫째 줄\n\t둘째 줄")))
    assert report.narrative == "첫째 줄\n\t둘째 줄"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("schema", "report/v2", "schema: Input should be 'report/v1'"),
        ("language", "ja", "language: Input should be 'ko' or 'en'"),
        ("detainee.birth_date", {"value": "1985", "precision": "week"}, "birth_date.precision"),
        ("detainee.birth_date", {"value": "1985-03", "precision": "day"}, "as precision says"),
        ("detainee.birth_date", {"value": "1985-02-30", "precision": "day"}, "not a calendar"),
        ("detainee.birth_date", {"value": "1066", "precision": "year"}, "year must be from"),
        ("detainee.birth_date", {"value": "١٩٨٥", "precision": "year"}, "birth_date.value"),
        ("detainee.name_hangul", "Hong Gil-dong", "name_hangul: must be written in Hangul"),
        ("detainee.name_hangul", "", "name_hangul: String should have at least 1 character"),
        ("detainee.name_hangul", "홍" * 101, "name_hangul: String should have at most 100"),
        ("detainee.hometown", "회령\n시", "hometown: contains a control character"),
        ("detainee.hometown", "회령\u202e시", "hometown: contains a bidirectional override"),
        ("detainee.romanisations", ["Hong"] * 9, "romanisations: List should have at most 8"),
        ("detainee.sex", "M", "detainee.sex"),
        ("detainee", {}, "detainee: give name_hangul, romanisations or chinese_alias"),
        ("narrative", "a\x1b[2Jb", "narrative: contains a control character"),
        ("narrative", "a\rb", "narrative: contains a control character"),
        ("narrative", 42, "narrative: Input should be a valid string"),
        ("consent.publish", "yes", "consent.publish: Input should be a valid boolean"),
        ("consent.publish", 1, "consent.publish: Input should be a valid boolean"),
        ("source.knowledge", "rumour", "source.knowledge"),
        ("events", [{"kind": "abduction"}], "events[0].kind"),
        ("events", [{"kind": "arrest", "facility": None, "x": 1}], "events[0].x: Extra inputs"),
        (
            "events",
            [
                {
                    "kind": "transfer",
                    "date": {
                        "start": {"value": "2024-05", "precision": "month"},
                        "end": {"value": "2024-04-30", "precision": "day"},
                    },
                }
            ],
            "events[0].date: end is before start",
        ),
        ("extra_field", 1, "extra_field: Extra inputs are not permitted"),
        ("reply", {"recipient": "age1notakey", "followup_mac_check": "00" * 32}, "reply: recip"),
        ("reply", {"recipient": "x", "followup_mac_check": "AB" * 32}, "followup_mac_check"),
    ],
)
def test_a_bad_field_is_named(path: str, value: object, expected: str) -> None:
    assert expected in _problems(_with(path, value))


def test_a_missing_field_is_named() -> None:
    document = _minimal()
    del document["source"]
    assert "source: Field required" in _problems(document)


def test_every_bad_field_is_listed() -> None:
    document = _with("language", "ja")
    document["detainee"]["birth_date"] = {"value": "1985", "precision": "decade"}
    message = _problems(document)
    assert "language:" in message
    assert "detainee.birth_date.precision:" in message


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("detainee.name_hangul", SECRET + "Hong"),
        ("detainee.hometown", SECRET + "\x07"),
        ("narrative", 7),
        ("language", SECRET),
        ("detainee.birth_date", {"value": SECRET, "precision": "day"}),
        (SECRET, "an unexpected key is submitted text too"),
        ("events", [{"kind": "arrest", SECRET: 1}]),
    ],
)
def test_an_error_never_echoes_what_was_submitted(path: str, value: object) -> None:
    message = _problems(_with(path, value))
    assert SECRET not in message
    assert "an unexpected key" not in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{", "not JSON"),
        (b'{"language": "ko", "language": "en"}', "a key appears twice"),
        (b'{"narrative": NaN}', "NaN"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b"[]", "(report): Input should be a valid dictionary"),
    ],
    ids=["not-utf8", "truncated", "duplicate-key", "nan", "deep-nesting", "not-an-object"],
)
def test_a_document_that_is_not_a_json_object_is_refused(data: bytes, expected: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_report(data)
    assert expected in str(caught.value)


def test_a_document_over_the_limit_is_refused_before_parsing() -> None:
    document = _with("narrative", "")
    text = json.dumps(document).replace(
        '"narrative": ""', '"narrative": "' + "a" * MAX_REPORT_BYTES
    )
    with pytest.raises(Invalid, match="larger than 1 MiB"):
        parse_report(text)


def test_a_byte_order_mark_is_tolerated() -> None:
    assert parse_report(b"\xef\xbb\xbf" + json.dumps(_minimal()).encode()).language == "ko"


def _reply_block() -> dict[str, str]:
    return {
        "recipient": recipient_of(generate_identity(kind="pq")),
        "followup_mac_check": "ab" * 32,
    }


def test_the_reply_block_takes_either_recipient_type() -> None:
    for kind in ("pq", "x25519"):
        block = _reply_block() | {"recipient": recipient_of(generate_identity(kind=kind))}
        report = parse_report(json.dumps(_with("reply", block)), require_reply=True)
        assert report.reply is not None
        assert report.reply.recipient == block["recipient"]


def test_require_reply_refuses_a_report_without_one() -> None:
    with pytest.raises(Invalid, match="reply: missing"):
        parse_report(json.dumps(_minimal()), require_reply=True)


def test_the_encoding_is_rfc8785_and_round_trips() -> None:
    report = parse_report(json.dumps(_with("reply", _reply_block())))
    encoded = encode_report(report)
    assert encoded == rfc8785.dumps(json.loads(encoded))
    assert parse_report(encoded) == report
    assert parse_report(encode_report(parse_report(template("ko")))) == parse_report(template("ko"))


def test_the_encoding_is_what_the_envelope_seals() -> None:
    report = parse_report(json.dumps(_with("reply", _reply_block())))
    sealed = seal_report_plaintext(encode_report(report))
    assert parse_report(sealed) == report  # a stock reader sees JSON and whitespace
    assert parse_report(open_report_plaintext(sealed), require_reply=True) == report


def test_the_model_itself_is_immutable() -> None:
    report = parse_report(template("en"))
    with pytest.raises(ValueError, match="frozen"):
        report.narrative = "changed"
    assert isinstance(report, Report)


@given(st.text(max_size=200))
def test_any_narrative_is_accepted_or_refused_as_invalid(text: str) -> None:
    document = json.dumps(_with("narrative", text))
    try:
        report = parse_report(document)
    except Invalid as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert message.startswith("the report has problems:\n  narrative: contains a")
        return
    assert report.narrative == unicodedata.normalize("NFC", text)
    assert all(unicodedata.category(c) != "Cc" or c in "\n\t" for c in report.narrative)
