"""What `tvault submit` and `tvault replies` share: the org pinned in memory, codenames.

A source's client writes nothing to disk but the encrypted resume file of an unfinished
upload (`client.resume`), so unlike `client.org.pin` it pins the org in memory only: the
key the server presents must be the one the fingerprint names, or one it handed over to
through verified rotation statements. The public roster is then verified against that
key (`crypto.roster.open_roster`, `check_roster`).

Without state a source cannot notice a roster rolled back between two sessions; within
one upload the resume file remembers the version used, so a resumed run refuses an
older one.
"""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from mnemonic import Mnemonic

from client import prompts
from client.errors import ClientError
from client.http import Server
from client.org import follow_rotations, served_org
from crypto import roster
from crypto.codename import Codename, CodenameError, CodenameKeys, Wordlist, derive, parse
from crypto.profile import KdfProfile
from crypto.roster import Roster, RosterError

#: The environment variable holding the codename (DESIGN.md section 7); not a secret.
CODENAME = "TVAULT_CODENAME"
#: The holder id of the org's recovery recipient's header (docs/submissions.md).
RECOVERY_HOLDER = "recovery-recipient"


@functools.cache
def wordlist(lang: Literal["ko", "en"]) -> Wordlist:
    """The pinned BIP-39 list of `lang`, from the maintained `mnemonic` package."""
    return Wordlist(lang, Mnemonic("korean" if lang == "ko" else "english").wordlist)


def read_codename() -> Codename:
    """The codename from `TVAULT_CODENAME`, else typed at a hidden prompt, in either list.

    Raises `ClientError` saying which word is unknown (and what it may have been), or
    that the check word does not match; never repeating what was typed.
    """
    text = prompts.secret(CODENAME, "Your codename")
    try:
        return parse(text, [wordlist("ko"), wordlist("en")])
    except CodenameError as exc:
        message = exc.diagnostics()
        if exc.position is not None:
            message += f" (word {exc.position}"
            if exc.suggestions:
                message += f"; did you mean {' or '.join(exc.suggestions)}?"
            message += ")"
        raise ClientError(message) from None


@dataclass(frozen=True)
class SourceOrg:
    """An org as a source sees it, after every check: its verified public roster."""

    fingerprint: str
    roster: Roster

    @property
    def kind(self) -> Literal["pq", "x25519"]:
        kind: Literal["pq", "x25519"] = self.roster.policy["recipient_type"]
        return kind

    @property
    def holders(self) -> dict[str, str]:
        """Holder id to age recipient: every intake caseworker, and the recovery
        recipient when the policy names one. Raises `ClientError` if there is no intake."""
        holders: dict[str, str] = {}
        for member in self.roster.members:
            holder, recipient = member.get("id"), member.get("recipient")
            if not isinstance(holder, str) or not isinstance(recipient, str):
                raise ClientError("refusing the roster: an intake entry is malformed")
            holders[holder] = recipient
        if not holders:
            raise ClientError(
                "the org's roster names no intake caseworker, so nobody could open a "
                "report; nothing was sent. Try again later or contact the org another way."
            )
        recovery = self.roster.policy.get("recovery_recipient")
        if recovery:
            holders[RECOVERY_HOLDER] = recovery
        return holders

    @property
    def staff_keys(self) -> dict[str, bytes]:
        """Opaque account id to Ed25519 verify key, from the roster's `staff_keys`."""
        keys: dict[str, bytes] = {}
        for entry in self.roster.document.get("staff_keys", []):
            try:
                keys[str(entry["id"])] = base64.b64decode(entry["verify_key"], validate=True)
            except (KeyError, TypeError, binascii.Error):
                raise ClientError("refusing the roster: a staff key is malformed") from None
        return keys

    def derive(self, codename: Codename, profile: KdfProfile) -> CodenameKeys:
        """The codename's keys at this org (one Argon2id run)."""
        return derive(
            codename, org_fingerprint=self.fingerprint.encode(), kind=self.kind, profile=profile
        )


def today() -> date:
    return datetime.now(UTC).date()


def pin_org(server: Server, fingerprint: str, *, last_version: int | None = None) -> SourceOrg:
    """Fetch the org, check its key against `fingerprint` (following verified rotations),
    and verify its public roster. Nothing is written. Raises `ClientError` saying why."""
    wanted, org, public_key = served_org(server, fingerprint)
    if roster.fingerprint(public_key) != wanted:
        follow_rotations(server, None, wanted, public_key)
    signed = org.get("roster")
    if not isinstance(signed, str):
        raise ClientError("the org has published no roster yet; nobody could open a report")
    try:
        opened = roster.open_roster(signed.encode(), org_public_key=public_key, kind="public")
        roster.check_roster(opened, last_version=last_version, today=today())
    except RosterError as exc:
        raise ClientError(f"refusing the server's roster: {exc.diagnostics()}") from None
    # The fingerprint the keys are salted with is the one the source was given: after a
    # rotation the codename must still open what it opened before.
    return SourceOrg(wanted, opened)
