"""The one error of the codename module."""

from __future__ import annotations

from crypto.errors import CryptoError


class CodenameError(CryptoError):
    """A codename cannot be read or used: an unknown word, a failed checksum, a bad list.

    The message never holds what was typed: a codename word is a secret, and messages end
    up in logs. For the person at the keyboard, `position` (1-based) names the word that
    is not in the list and `suggestions` the nearest list words, if any are close.
    """

    summary = "the codename is not valid"

    def __init__(
        self, message: str, *, position: int | None = None, suggestions: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.position = position
        self.suggestions = suggestions
