"""The org's optional offline recovery recipient, split among trustees as SLIP-39 shares.

When an org names one, every record is also sealed to it, so records survive the loss of
every caseworker's key. The trade (say it plainly to the org): any `threshold` trustees
who bring their shares together can open every record the org ever received. The
identity exists only in memory while `org init` runs; it is never written to disk, and
the shares are printed once. `recover` rebuilds the identity from enough shares.

The SLIP-39 master secret is the identity's 32 raw bytes: the X25519 scalar, or the
hybrid type's seed. The recipient type is the org's, so it is not in the shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

# shamir-mnemonic (SatoshiLabs' reference implementation of SLIP-39) ships no type
# information; pyproject.toml's mypy overrides let it in untyped.
import shamir_mnemonic
from shamir_mnemonic import MnemonicError

from client.errors import ClientError
from crypto import age
from crypto.age import bech32

_HRP = {"pq": "age-secret-key-pq-", "x25519": "age-secret-key-"}


@dataclass(frozen=True)
class Recovery:
    recipient: str
    shares: list[str]


def split(kind: Literal["pq", "x25519"], *, threshold: int, shares: int) -> Recovery:
    """Make a recovery identity and split it into `shares` SLIP-39 mnemonics, any
    `threshold` of which rebuild it. Raises `ClientError` for impossible counts."""
    if not 2 <= threshold <= shares <= 16:
        raise ClientError("recovery needs 2 <= threshold <= shares <= 16")
    identity = age.generate_identity(kind)
    _, secret = bech32.decode(identity.lower())
    (group,) = shamir_mnemonic.generate_mnemonics(
        group_threshold=1, groups=[(threshold, shares)], master_secret=secret
    )
    return Recovery(recipient=age.recipient_of(identity), shares=[str(m) for m in group])


def recover(kind: Literal["pq", "x25519"], shares: Sequence[str]) -> str:
    """Rebuild the recovery identity from enough shares; raises `ClientError`."""
    try:
        secret = bytes(shamir_mnemonic.combine_mnemonics(shares))
    except MnemonicError as exc:
        raise ClientError(f"the shares do not combine: {exc}") from None
    return bech32.encode(_HRP[kind], secret).upper()
