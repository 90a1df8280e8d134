"""The one error family of the ``vault`` layer.

Every failure that ``vault`` reports on purpose is a :class:`VaultError`. Each subclass
means one thing, so ``api/`` maps them to HTTP problems in one place and the CLI prints
:meth:`VaultError.diagnostics`. Nothing here knows about HTTP.

Messages are for people and are built at the raise site from fixed text and values that
are safe to show: never a password, token, key, database password or report content.
"""

from __future__ import annotations


class VaultError(Exception):
    """Base class of every error raised by ``vault``."""

    #: A short, fixed description of the failure class, for people.
    summary = "the vault refused the operation"

    def diagnostics(self) -> str:
        """Return a human-readable explanation for the CLI or the log to print."""
        detail = str(self)
        if not detail or detail == self.summary:
            return f"{self.summary}."
        return f"{self.summary}: {detail}"


class ConfigError(VaultError):
    """The configuration or the environment it names cannot work (data dir, database URL,
    KDF profile, an unreachable database). Fixed by the operator, never by retrying."""

    summary = "the vault is not configured correctly"


class NotFound(VaultError):  # noqa: N818 - the domain word reads better than NotFoundError
    """The thing asked for does not exist, or the caller may not learn that it does."""

    summary = "not found"


class Conflict(VaultError):  # noqa: N818
    """The request contradicts the current state: already used, already exists, stale."""

    summary = "conflicts with the current state"


class Forbidden(VaultError):  # noqa: N818
    """The caller is known but their role or holdings do not allow this."""

    summary = "not allowed"


class Invalid(VaultError):  # noqa: N818
    """The input is well-formed for the transport but breaks a domain rule."""

    summary = "invalid input"
