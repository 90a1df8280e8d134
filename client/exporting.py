"""`tvault export (RECORD|--case ID) --out FILE [--format json|csv] [--for un|publish]`.

An export takes a report out of the vault for a use its source consented to (DESIGN.md
section 8): `un`, sharing with the UN working groups, or `publish`. Every report is opened
and its consent checked first; if any does not allow the use, nothing is exported and
the refusal names them. Each export is announced to the server (`POST
/records/{RID}/exports`, logged) before the file is written.

The export never carries the report's `reply` block: its follow-up MAC check is a key
that would let whoever holds the file forge the source's follow-ups.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Final, Literal

from client.casework import Desk, case_records, records
from client.errors import ClientError
from client.opening import REPORT, read_report, write_private
from vault.report import Report

Use = Literal["un", "publish"]
Format = Literal["json", "csv"]
_CONSENT: Final[dict[str, str]] = {"un": "share_with_un_working_groups", "publish": "publish"}
# Characters that make a spreadsheet read a cell as a formula (CSV injection).
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
COLUMNS: Final = (
    "record",
    "language",
    "detainee_name_hangul",
    "detainee_romanisations",
    "detainee_chinese_alias",
    "detainee_sex",
    "detainee_birth_date",
    "detainee_hometown",
    "events",
    "source_relationship",
    "source_knowledge",
    "source_last_contact",
    "consent_share_with_un_working_groups",
    "consent_publish",
    "consent_recontact",
    "narrative",
)


def _allowed(report: Report, use: Use) -> bool:
    return bool(getattr(report.consent, _CONSENT[use]))


def export(
    desk: Desk,
    *,
    record: str | None,
    case: str | None,
    out: Path,
    fmt: Format,
    use: Use,
) -> list[str]:
    """Export the report `record`, or every report of `case`, to `out`; the ids exported.

    Raises `ClientError` naming the reports whose consent does not allow `use` (nothing is
    written or logged then), or any check that fails while opening them.
    """
    if case is not None:
        kinds = {str(r["id"]): r.get("kind") for r in records(desk)}
        wanted = [r for r in case_records(desk, case) if kinds.get(r) == REPORT]
        if not wanted:
            raise ClientError(f"case {case} holds no report you can open")
    else:
        assert record is not None
        wanted = [record]
    opened = [(rid, read_report(desk, rid)[1:]) for rid in wanted]
    refused = [rid for rid, (report, _) in opened if not _allowed(report, use)]
    if refused:
        raise ClientError(
            f"not exported: the source of {', '.join(refused)} did not consent to "
            f"{_CONSENT[use]}; nothing was written"
        )
    for rid, _ in opened:
        desk.server.call("POST", f"/records/{rid}/exports", auth=True)
    documents = [(rid, _without_reply(document)) for rid, (_, document) in opened]
    data = _json(documents) if fmt == "json" else _csv(documents)
    write_private(out, data)
    return [rid for rid, _ in opened]


def _without_reply(document: bytes) -> dict[str, Any]:
    fields: dict[str, Any] = json.loads(document)
    fields.pop("reply", None)
    return fields


def _json(documents: list[tuple[str, dict[str, Any]]]) -> bytes:
    body = [{"record": rid, "report": fields} for rid, fields in documents]
    return json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def _csv(documents: list[tuple[str, dict[str, Any]]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    for rid, fields in documents:
        writer.writerow([_cell(value) for value in _row(rid, fields)])
    return text.getvalue().encode("utf-8")


def _row(rid: str, fields: dict[str, Any]) -> list[Any]:
    detainee, source = fields.get("detainee", {}), fields.get("source", {})
    consent = fields.get("consent", {})
    return [
        rid,
        fields.get("language"),
        detainee.get("name_hangul"),
        "; ".join(detainee.get("romanisations", [])),
        detainee.get("chinese_alias"),
        detainee.get("sex"),
        (detainee.get("birth_date") or {}).get("value"),
        detainee.get("hometown"),
        json.dumps(fields.get("events", []), ensure_ascii=False, sort_keys=True),
        source.get("relationship"),
        source.get("knowledge"),
        (source.get("last_contact") or {}).get("value"),
        consent.get("share_with_un_working_groups", False),
        consent.get("publish", False),
        consent.get("recontact", False),
        fields.get("narrative"),
    ]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text
