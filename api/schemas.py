"""Request and response bodies of the account routes. Secrets appear only in requests.

Binary values travel as standard base64; signed rosters as their note text.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Base64Bytes, BaseModel, ConfigDict, Field, StringConstraints

from vault.models import Role

Username = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
TotpCode = Annotated[str, StringConstraints(min_length=1, max_length=16)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=200)]
RecipientType = Literal["pq", "x25519"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewAdminIn(_Body):
    username: Username
    password: Secret
    totp_secret: Annotated[str, StringConstraints(min_length=16, max_length=128)]
    totp_code: TotpCode


class OrgRegistration(_Body):
    bootstrap_code: Code
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    public_key: Base64Bytes
    recipient_type: RecipientType = "pq"
    #: The offline recovery recipient every record is also sealed to, if the org has one.
    recovery_recipient: Annotated[str, StringConstraints(max_length=4096)] | None = None
    admin: NewAdminIn


class OrgOut(BaseModel):
    """The org as anyone may see it; `staff_roster` only for a logged-in staff member."""

    name: str
    fingerprint: str
    public_key: str = Field(description="The org's Ed25519 key, base64.")
    policy: dict[str, str]
    log_key: str | None = Field(description="The server's log key as a C2SP vkey.")
    roster: str | None = Field(description="The signed public roster, newest version.")
    staff_roster: str | None = None


class LoginIn(_Body):
    username: Username
    password: Secret
    totp_code: TotpCode


class SessionOut(BaseModel):
    token: str
    expires_at: datetime
    username: str
    role: Role


class NewUserIn(_Body):
    username: Username
    role: Role


class IssuedCodeOut(BaseModel):
    """The server's part of an enrolment code; the admin's client adds the secret half."""

    username: str
    role: Role
    code_id: str
    server_half: str
    expires_on: date


class EnrolIn(_Body):
    code_id: Code
    server_half: Code
    username: Username
    password: Secret
    totp_secret: Annotated[str, StringConstraints(min_length=16, max_length=128)]
    totp_code: TotpCode
    recipient: Annotated[str, StringConstraints(max_length=4096)] | None
    verify_key: Base64Bytes
    mac: Base64Bytes


class EnrolLookupIn(_Body):
    code_id: Code
    server_half: Code
    username: Username


class EnrolLookupOut(BaseModel):
    username: str
    role: Role


class AccountOut(BaseModel):
    username: str
    role: Role
    id: str


class MemberKeys(BaseModel):
    code_id: str
    recipient: str | None
    verify_key: str
    mac: str


class MemberOut(BaseModel):
    id: str
    username: str
    role: Role
    disabled: bool
    enrolled: bool
    keys: MemberKeys | None


class RosterIn(_Body):
    staff: Annotated[str, StringConstraints(max_length=512 * 1024)]
    public: Annotated[str, StringConstraints(max_length=512 * 1024)]


class RosterOut(BaseModel):
    version: int


class RotationIn(_Body):
    statement: Annotated[str, StringConstraints(max_length=16 * 1024)] = Field(
        description="The rotation statement, signed by the old and the new org key."
    )


class RotationOut(BaseModel):
    serial: int
    fingerprint: str = Field(description="The new org key's fingerprint.")


class RotationsOut(BaseModel):
    """Every org key rotation statement, in serial order; clients verify the chain."""

    statements: list[str]
