"""`tvault audit verify` and `tvault audit log`: the auditor's checks (DESIGN.md section 4).

`verify` trusts nothing the server says until it has checked it:

1. the org: its key must hash to the fingerprint the auditor was given;
2. the roster: signed by that org key, not rolled back or expired; it names the log key,
   whose name is the log's origin;
3. the checkpoint: signed by that log key;
4. consistency with the checkpoint this home verified last for this server and org: the
   log must not have shrunk (rollback) or changed what that checkpoint covered (fork);
5. the entries, read with an auditor's session and replayed: they must give the signed
   root (`crypto.auditlog.verify_log`); if not, proofs from the server locate the first
   entry that differs and say whether it was edited, deleted, inserted or moved;
6. their meaning (`client.meaning`): every fetch and grant by an account holding the record.

The new checkpoint is kept only when every check passed, so a failure is reported again
on the next run instead of being forgotten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from client import meaning
from client.errors import ClientError
from client.home import Home
from client.locate import locate
from client.logserver import LogServer
from client.org import pin
from client.rosters import check_served
from crypto.auditlog import verify_log
from crypto.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from crypto.errors import ProofError
from crypto.merkle import verify_consistency
from crypto.merkle.rfc6962 import hash_leaf
from crypto.note import Verifier
from crypto.roster import Roster

KEPT_FILE: Final = "checkpoints.json"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Verification:
    """What `verify` found. `passed` only if every check ran and passed."""

    server: str
    org: str
    tree_size: int | None = None
    previous_tree_size: int | None = None
    checks: list[Check] = field(default_factory=list)
    saved: bool = False

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def ok(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, True, detail))

    def fail(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, False, detail))

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.passed,
            "server": self.server,
            "org": self.org,
            "tree_size": self.tree_size,
            "previous_tree_size": self.previous_tree_size,
            "checkpoint_saved": self.saved,
            "checks": [{"check": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


# --- the checkpoint this home verified last -----------------------------------------


# Kept per org, not per URL: an org has one log, and a URL is only an address. Keyed by
# URL, a vault that moved (or answered at a second address) would reset what the auditor
# remembers, and a rollback served from the new address would pass as a first visit.


def kept_checkpoint(home: Home, fingerprint: str) -> Checkpoint | None:
    """The checkpoint this home last verified for the org `fingerprint`, if any."""
    raw = home.read(KEPT_FILE)
    kept = {} if raw is None else json.loads(raw)
    text = kept.get(fingerprint)
    return None if text is None else parse_checkpoint(text["checkpoint"])


def keep_checkpoint(home: Home, fingerprint: str, checkpoint: Checkpoint, note: bytes) -> None:
    raw = home.read(KEPT_FILE)
    kept = {} if raw is None else json.loads(raw)
    kept[fingerprint] = {
        "checkpoint": checkpoint.text(),
        "note": note.decode("utf-8"),
    }
    home.write(KEPT_FILE, json.dumps(kept, indent=2, sort_keys=True).encode())


# --- roster and checkpoint -----------------------------------------------------------


def verified_roster(server: LogServer, home: Home) -> Roster:
    """The staff roster if this home has a session, else the public one, verified against
    the pinned org. Raises `ClientError` if it does not verify or there is none yet."""
    org = server.call("GET", "/org", auth=server.token is not None)
    staff = org.get("staff_roster")
    opened = (
        check_served(home, staff, kind="staff")
        if staff is not None
        else check_served(home, org.get("roster"), kind="public")
    )
    if opened is None:
        raise ClientError("the org has published no roster yet, so no log key is known")
    return opened


def staff_names(roster: Roster) -> dict[str, str]:
    """Opaque account id to username, from a staff roster (empty for a public one)."""
    if roster.kind != "staff":
        return {}
    return {str(m["id"]): str(m["username"]) for m in roster.members}


def _consistency(
    result: Verification, server: LogServer, previous: Checkpoint, current: Checkpoint
) -> bool:
    """Check `current` extends `previous`; record the finding; True if it does."""
    before, now = previous.tree_size, current.tree_size
    if previous.origin != current.origin:
        result.fail(
            "consistency",
            f"the checkpoint kept here is of another log "
            f"({previous.origin}, now {current.origin}): the log key changed",
        )
        return False
    if now < before:
        result.fail(
            "consistency",
            f"ROLLBACK: the log now has {now} entries, fewer than the "
            f"{before} of the checkpoint verified earlier; entries {now} to "
            f"{before - 1} are gone (an old backup restored, or history cut)",
        )
        return False
    if now == before and current.root_hash != previous.root_hash:
        result.fail(
            "consistency",
            f"FORK: the log signed two different trees of size {now}; "
            "history was rewritten and re-signed with the log key",
        )
        return False
    if 0 < before < now:
        try:
            proof = server.consistency(size1=before, size2=now)
            verify_consistency(
                size1=before,
                size2=now,
                proof=proof,
                root1=previous.root_hash,
                root2=current.root_hash,
            )
        except (ProofError, ClientError) as exc:
            result.fail(
                "consistency",
                f"FORK: the log of {now} entries does not extend the "
                f"{before} verified earlier ({exc}); history before entry {before} "
                "was rewritten and re-signed with the log key",
            )
            return False
    result.ok("consistency", f"extends the checkpoint verified earlier ({before} entries)")
    return True


# --- verify ----------------------------------------------------------------------------


def verify(server: LogServer, home: Home, *, fingerprint: str) -> Verification:
    """Run every check against `server` for the org `fingerprint`; keep the checkpoint if
    all pass. Refusals become failed checks; nothing here raises for a failed check."""
    result = Verification(server=server.url, org=fingerprint)
    try:
        pin(server, home, fingerprint)
        # The fingerprint as pinned (normalised), so one org has one kept checkpoint.
        result.org = str(home.state()["org"]["fingerprint"])
        roster = verified_roster(server, home)
    except ClientError as exc:
        result.fail("roster", str(exc))
        return result
    log = roster.log_key
    result.ok("roster", f"version {roster.version} signed by the pinned org; log key {log.name}")
    try:
        note = server.checkpoint()
        current, _ = open_checkpoint(note, origin=log.name, log=log)
    except (ClientError, ProofError) as exc:
        result.fail("checkpoint", f"not signed by the roster's log key: {exc}")
        return result
    result.tree_size = current.tree_size
    result.ok("checkpoint", f"signed by the log key, {current.tree_size} entries")
    previous = kept_checkpoint(home, result.org)
    consistent = True
    if previous is None:
        result.ok("consistency", "no checkpoint kept here yet: this is the first verification")
    else:
        result.previous_tree_size = previous.tree_size
        consistent = _consistency(result, server, previous, current)
    try:
        entries = list(server.entries(tree_size=current.tree_size))
    except ClientError as exc:
        result.fail("entries", f"cannot read the entries: {exc}")
        return result
    # After a rollback or fork, the entries are still checked against the new checkpoint.
    kept = previous if consistent else None
    if _replay(result, server, entries, note, current, kept, log=log):
        _meaning(result, entries, staff_names(roster))
    if result.passed:
        keep_checkpoint(home, result.org, current, note)
        result.saved = True
    return result


def _replay(
    result: Verification,
    server: LogServer,
    entries: list[bytes],
    note: bytes,
    current: Checkpoint,
    previous: Checkpoint | None,
    *,
    log: Verifier,
) -> bool:
    try:
        verify_log(entries, note, origin=current.origin, log=log, previous=previous)
    except ProofError as exc:
        size = current.tree_size
        try:
            where = locate(
                [hash_leaf(entry) for entry in entries],
                current,
                consistency=lambda k: server.consistency(size1=k, size2=size),
                inclusion=lambda i: server.inclusion(index=i, tree_size=size),
            )
        except ClientError as failure:
            where = f"not located ({failure})"
        result.fail("entries", f"{exc}. Found: {where}")
        return False
    result.ok("entries", f"{len(entries)} entries replay to the signed root")
    return True


def _meaning(result: Verification, entries: list[bytes], names: dict[str, str]) -> None:
    try:
        violations = meaning.check_meaning(meaning.decode_entries(entries), names=names)
    except ValueError as exc:
        result.fail("meaning", str(exc))
        return
    for violation in violations:
        result.fail("meaning", str(violation))
    if not violations:
        result.ok("meaning", "every fetch and grant was by an account holding the record")


# --- audit log -------------------------------------------------------------------------


def read_log(server: LogServer, home: Home) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every entry of the log as the latest signed checkpoint covers it, decoded, with its
    index, and the staff names. The entries are replayed against the checkpoint first.
    Raises `ClientError` if anything does not verify (run `tvault audit verify`)."""
    roster = verified_roster(server, home)
    try:
        note = server.checkpoint()
        current, _ = open_checkpoint(note, origin=roster.log_key.name, log=roster.log_key)
        entries = list(server.entries(tree_size=current.tree_size))
        verify_log(entries, note, origin=current.origin, log=roster.log_key)
        decoded = meaning.decode_entries(entries)
    except (ProofError, ValueError) as exc:
        raise ClientError(f"the log does not verify ({exc}); run tvault audit verify") from None
    return [{"index": i, **event} for i, event in enumerate(decoded)], staff_names(roster)
