"""The one error family of the ``crypto`` layer.

Every failure that ``crypto`` reports is a :class:`CryptoError`. Each subclass means one
thing, so callers branch on the class and never on the message. Messages never carry key
material, plaintext or anything read from the input: a failed open says only that it
failed, and at which stage.

The age subclasses map one-to-one onto the C2SP CCTV expectations:

========================  ===========================
CCTV ``expect``           class
========================  ===========================
``no match``              :class:`NoIdentityMatchError`
``HMAC failure``          :class:`HMACError`
``header failure``        :class:`HeaderError` (not :class:`HMACError`)
``payload failure``       :class:`PayloadError`
``armor failure``         :class:`ArmorError`
========================  ===========================
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error raised by ``crypto``."""

    #: A short, fixed description of the failure class, for people.
    summary = "cryptographic operation failed"

    def diagnostics(self) -> str:
        """Return a human-readable explanation for the CLI to print.

        The text is built from the class summary and the message given at the raise
        site, both of which are fixed strings that never contain secrets or input bytes.
        """
        detail = str(self)
        if not detail or detail == self.summary:
            return f"{self.summary}."
        return f"{self.summary}: {detail}."


class DecryptError(CryptoError):
    """Something failed to open. Nothing unauthenticated was released."""

    summary = "decryption failed"


class NoIdentityMatchError(DecryptError):
    """None of the given identities or passphrases opens any stanza of the header."""

    summary = "no identity matched any of the file's recipients"


class HeaderError(DecryptError):
    """The age header is malformed, or a stanza for our identity is invalid."""

    summary = "the age header is invalid"


class HMACError(HeaderError):
    """The header MAC does not verify: the header was altered after it was made."""

    summary = "the age header MAC does not verify"


class WorkFactorError(HeaderError):
    """An scrypt stanza asks for more work than the caller allows."""

    summary = "the scrypt work factor is larger than allowed"


class PayloadError(DecryptError):
    """A payload chunk does not authenticate, or the STREAM is truncated or extended."""

    summary = "the encrypted payload is damaged or truncated"


class ArmorError(DecryptError):
    """The ASCII armor is not strict PEM as the age spec requires."""

    summary = "the ASCII armor is invalid"


class KeyFormatError(CryptoError):
    """A recipient or identity string, or a raw file key, is not a well-formed key."""

    summary = "malformed key"


class RecipientError(CryptoError):
    """The set of recipients or identities given cannot be used (empty, or mixed types)."""

    summary = "unusable set of recipients"


class ProofError(CryptoError):
    """A Merkle proof or a signature does not verify."""

    summary = "proof verification failed"
