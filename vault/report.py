"""The contact report, `report/v1` (DESIGN.md section 8): what a source seals about a detainee.

It follows the HURIDOCS "who did what to whom" model: the detainee (who), the events (what
was done, when, where, by which unit), and the source (how they know). The source's consent
flags default to False, because a report shared or published by mistake can cost a life.
The client validates a report before sealing it and adds the `reply` block; the server
never sees any of it.

A pure domain module: pydantic and the stdlib, plus :mod:`vault.errors` and the age
recipient parser. The client imports it, and nothing here touches storage.

Text is NFC-normalised, so the same name typed on two keyboards compares equal. Control
characters (other than newline and tab in free text) and bidirectional overrides are
refused: a caseworker's terminal or an export must show the text exactly as it reads.
Lengths are bounded so that a whole report stays far below :data:`MAX_REPORT_BYTES`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from crypto.age.recipients import parse_recipient
from crypto.errors import KeyFormatError
from vault.errors import Invalid

SCHEMA: Final = "report/v1"
MAX_REPORT_BYTES: Final = 1024 * 1024
"""A report document larger than this is refused before it is parsed."""

Language = Literal["ko", "en"]
Precision = Literal["year", "month", "day"]

# Bidirectional embeddings, overrides and isolates (U+202A-E, U+2066-9) can make text
# read differently from what it holds; a report has no use for them.
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_FREE_TEXT_CONTROLS: Final = frozenset("\n\t")


def _checked_text(value: str, allowed: frozenset[str]) -> str:
    # Messages name the rule, never the text: a report's words may be dangerous to log.
    value = unicodedata.normalize("NFC", value)
    for char in value:
        category = unicodedata.category(char)
        if char in allowed:
            continue
        if category in ("Cc", "Cs", "Zl", "Zp"):
            raise ValueError("contains a control character")
        if char in _BIDI_CONTROLS:
            raise ValueError("contains a bidirectional override")
    return value


def _line(value: str) -> str:
    return _checked_text(value, frozenset())


def _free_text(value: str) -> str:
    return _checked_text(value, _FREE_TEXT_CONTROLS)


def _hangul(value: str) -> str:
    if not all(_is_hangul(char) or char == " " for char in value) or not value.strip():
        raise ValueError("must be written in Hangul")
    return value


def _is_hangul(char: str) -> bool:
    point = ord(char)
    return (
        0xAC00 <= point <= 0xD7A3  # syllables
        or 0x1100 <= point <= 0x11FF  # jamo
        or 0x3130 <= point <= 0x318F  # compatibility jamo
    )


Line = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_line)]
Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_line)]
HangulName = Annotated[Name, AfterValidator(_hangul)]
Description = Annotated[str, Field(max_length=8000), AfterValidator(_free_text)]
Narrative = Annotated[str, Field(max_length=60000), AfterValidator(_free_text)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


_DATE_FORMS: Final = {
    "year": re.compile(r"[0-9]{4}"),
    "month": re.compile(r"[0-9]{4}-[0-9]{2}"),
    "day": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
}
_EARLIEST_YEAR: Final = 1900
_LATEST_YEAR: Final = 2100


class PartialDate(_Model):
    """A date known to a year, a month or a day: `{"value": "1985-03", "precision": "month"}`."""

    value: str = Field(
        pattern=r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$",
        description="YYYY, YYYY-MM or YYYY-MM-DD, as the precision says.",
    )
    precision: Precision

    @model_validator(mode="after")
    def _value_matches_precision(self) -> PartialDate:
        if not _DATE_FORMS[self.precision].fullmatch(self.value):
            raise ValueError("value must be YYYY, YYYY-MM or YYYY-MM-DD as precision says")
        if not _EARLIEST_YEAR <= int(self.value[:4]) <= _LATEST_YEAR:
            raise ValueError(f"the year must be from {_EARLIEST_YEAR} to {_LATEST_YEAR}")
        try:
            self.latest()
        except ValueError:
            raise ValueError("value is not a calendar date") from None
        return self

    def earliest(self) -> date:
        """The first day this date may mean."""
        parts = [int(part) for part in self.value.split("-")] + [1, 1]
        return date(parts[0], parts[1], parts[2])

    def latest(self) -> date:
        """The last day this date may mean."""
        parts = [int(part) for part in self.value.split("-")]
        if len(parts) == 3:
            return date(parts[0], parts[1], parts[2])
        if len(parts) == 1:
            return date(parts[0], 12, 31)
        year, month = parts
        following = date(year + month // 12, month % 12 + 1, 1)
        return date.fromordinal(following.toordinal() - 1)


class DateRange(_Model):
    """When something happened: from `start` to `end`; no `end` means a single date."""

    start: PartialDate
    end: PartialDate | None = None

    @model_validator(mode="after")
    def _in_order(self) -> DateRange:
        if self.end is not None and self.end.latest() < self.start.earliest():
            raise ValueError("end is before start")
        return self


class Detainee(_Model):
    """Who: the person detained. At least one of the three names is needed."""

    name_hangul: HangulName | None = Field(None, description="The name in Hangul, e.g. 홍길동.")
    romanisations: list[Name] = Field(
        default_factory=list, max_length=8, description="Latin spellings, e.g. Hong Gil-dong."
    )
    chinese_alias: Name | None = Field(None, description="A name used in China, if any.")
    sex: Literal["female", "male", "unknown"] = "unknown"
    birth_date: PartialDate | None = None
    hometown: Line | None = None

    @model_validator(mode="after")
    def _named(self) -> Detainee:
        if self.name_hangul is None and not self.romanisations and self.chinese_alias is None:
            raise ValueError("give name_hangul, romanisations or chinese_alias")
        return self


class Event(_Model):
    """What was done, when, where, and by whom."""

    kind: Literal["arrest", "detention", "transfer", "repatriation", "other"]
    date: DateRange | None = None
    facility: Line | None = None
    responsible_unit: Line | None = Field(None, description="e.g. the police or unit involved.")
    whereabouts: Line | None = Field(None, description="Where the detainee is or was held.")
    description: Description = ""


class Source(_Model):
    """How the source knows: their relationship, first-hand or not, and the last contact."""

    relationship: Line = Field(description="The source to the detainee, e.g. 어머니, brother.")
    knowledge: Literal["direct", "hearsay"]
    last_contact: PartialDate | None = None


class Consent(_Model):
    """What the source allows. Everything is refused unless the source says yes."""

    share_with_un_working_groups: bool = False
    publish: bool = False
    recontact: bool = False


class Reply(_Model):
    """Added by the client inside the sealed report (DESIGN.md section 3, codenames): where
    caseworkers seal their replies, and the check for the source's follow-up MACs."""

    recipient: str = Field(max_length=2000, description="The source's age1pq1… or age1… key.")
    followup_mac_check: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="32 bytes, lowercase hex."
    )

    @model_validator(mode="after")
    def _recipient_parses(self) -> Reply:
        try:
            parse_recipient(self.recipient)
        except KeyFormatError:
            raise ValueError("recipient is not an age recipient (age1pq1… or age1…)") from None
        return self


class AttachmentRef(_Model):
    """Added by the client inside the sealed report: one attachment record of the same
    submission (docs/submissions.md), listed in upload order."""

    record: str = Field(pattern=r"^[A-Za-z0-9_-]{16,64}$", description="Its record id.")


class Report(_Model):
    """A contact report, `report/v1`."""

    schema_version: Literal["report/v1"] = Field(alias="schema")
    language: Language
    detainee: Detainee
    events: list[Event] = Field(default_factory=list, max_length=50)
    source: Source
    consent: Consent = Field(default_factory=Consent)
    narrative: Narrative
    reply: Reply | None = None
    attachments: list[AttachmentRef] | None = Field(default=None, max_length=20)


def parse_report(data: bytes | str, *, require_reply: bool = False) -> Report:
    """Validate a `report/v1` JSON document; raise :class:`vault.errors.Invalid` if it is not one.

    The message names each bad field by its path (`events[0].date.start: ...`) and never
    repeats what was submitted. Duplicate keys, NaN and documents over
    :data:`MAX_REPORT_BYTES` are refused. `require_reply` also demands the `reply` block
    the client adds before sealing.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > MAX_REPORT_BYTES:
        raise Invalid(f"the report is larger than {MAX_REPORT_BYTES >> 20} MiB")
    try:
        document = json.loads(
            raw.decode("utf-8-sig"),
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_no_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, _RefusedError) as exc:
        reason = str(exc) if isinstance(exc, _RefusedError) else _decode_problem(exc)
        raise Invalid(f"the report is not JSON: {reason}") from None
    try:
        report = Report.model_validate(document)
    except ValidationError as exc:
        raise Invalid(_field_problems(exc)) from None
    if require_reply and report.reply is None:
        raise Invalid("reply: missing; the client adds it before sealing")
    return report


def encode_report(report: Report) -> bytes:
    """The canonical encoding of `report`: UTF-8 JSON, sorted keys, no whitespace, absent
    fields left out. A report holds only strings and booleans, for which this is RFC 8785."""
    fields = report.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class _RefusedError(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two values for one key would let two readers see two different reports.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _RefusedError("a key appears twice in one object")
    return result


def _no_constant(name: str) -> Any:
    raise _RefusedError("NaN and Infinity are not JSON")


def _decode_problem(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return "nested too deeply"


_FIELD_NAME: Final = re.compile(r"[A-Za-z0-9_]{1,64}")


def _field_problems(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        lines.append(f"{_path(error['loc'])}: {error['msg'].removeprefix('Value error, ')}")
    return "the report has problems:\n" + "\n".join(f"  {line}" for line in lines)


def _path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            # An unexpected key is submitted text too: name it only if it looks like a field.
            name = part if _FIELD_NAME.fullmatch(part) else "(unexpected key)"
            path += f".{name}" if path else name
    return path or "(report)"


_TEMPLATES: Final[dict[str, dict[str, Any]]] = {
    "ko": {
        "schema": SCHEMA,
        "language": "ko",
        "detainee": {
            "name_hangul": "홍길동",
            "romanisations": ["Hong Gil-dong", "Hong Kil-tong"],
            "chinese_alias": "洪吉童",
            "sex": "male",
            "birth_date": {"value": "1985-03", "precision": "month"},
            "hometown": "함경북도 ○○군 (예시)",
        },
        "events": [
            {
                "kind": "arrest",
                "date": {"start": {"value": "2024-05-14", "precision": "day"}},
                "facility": None,
                "responsible_unit": "중국 공안 (예시)",
                "whereabouts": "중국 ○○시 (예시)",
                "description": "무엇을 보거나 들었는지 적어 주세요.\n"
                "(예시입니다. 지우고 새로 쓰세요.)",
            },
            {
                "kind": "repatriation",
                "date": {
                    "start": {"value": "2024-06", "precision": "month"},
                    "end": {"value": "2024-07", "precision": "month"},
                },
                "facility": "○○ 집결소 (예시)",
                "responsible_unit": None,
                "whereabouts": None,
                "description": "",
            },
        ],
        "source": {
            "relationship": "어머니",
            "knowledge": "hearsay",
            "last_contact": {"value": "2024-04", "precision": "month"},
        },
        "consent": {"share_with_un_working_groups": False, "publish": False, "recontact": False},
        "narrative": "이 보고서는 작성 예시입니다. 홍길동은 가상의 인물입니다.\n"
        "아는 것을 자유롭게 적어 주세요. 모르는 칸은 null로 두세요.",
    },
    "en": {
        "schema": SCHEMA,
        "language": "en",
        "detainee": {
            "name_hangul": "홍길동",
            "romanisations": ["Hong Gil-dong"],
            "chinese_alias": None,
            "sex": "male",
            "birth_date": {"value": "1985", "precision": "year"},
            "hometown": "North Hamgyong Province (example)",
        },
        "events": [
            {
                "kind": "arrest",
                "date": {"start": {"value": "2024-05-14", "precision": "day"}},
                "facility": None,
                "responsible_unit": "Chinese public security police (example)",
                "whereabouts": "A city in China (example)",
                "description": "Write what you saw or heard.\n(An example: replace it.)",
            }
        ],
        "source": {
            "relationship": "brother",
            "knowledge": "direct",
            "last_contact": {"value": "2024-04", "precision": "month"},
        },
        "consent": {"share_with_un_working_groups": False, "publish": False, "recontact": False},
        "narrative": "This report is an example. Hong Gil-dong is a fictional person.\n"
        "Write what you know in your own words. Leave unknown fields as null.",
    },
}


def template(lang: Language) -> str:
    """A valid example report in `lang` ("ko" or "en") to fill in: pretty-printed JSON with
    every field shown. The person in it is fictional. Raises ValueError for another lang."""
    if lang not in _TEMPLATES:
        raise ValueError("the template language must be ko or en")
    report = Report.model_validate(_TEMPLATES[lang])  # the example is itself checked
    fields = report.model_dump(mode="json", by_alias=True, exclude={"reply"})
    return json.dumps(fields, indent=2, ensure_ascii=False) + "\n"


def json_schema() -> str:
    """The published JSON Schema of `report/v1`, as committed in `vault/report.schema.json`."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **Report.model_json_schema(by_alias=True),
    }
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # regenerate: python -m vault.report > vault/report.schema.json
    print(json_schema(), end="")
