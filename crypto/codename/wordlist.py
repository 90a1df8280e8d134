"""The word lists codenames are spelled in: BIP-39's English and Korean lists, pinned.

A codename is its word *indices*; a list only spells them. The lists are maintained and
shipped by the ``mnemonic`` package (trezor/python-mnemonic), which ``crypto`` may not
import (DESIGN.md section 9: stdlib, cryptography, PyNaCl, argon2-cffi, and no I/O), so
the caller hands the words in::

    Wordlist("ko", mnemonic.Mnemonic("korean").wordlist)

and this module checks them against the SHA-256 pinned below. The pin matters more than
the source: if a list ever changed, the same spoken words would name other indices and a
returning source would derive other keys, so a list that is not exactly v1's is refused.

Words are compared after `normalise` (NFKC, case-folded): the Korean list ships in NFD,
a phone keyboard types NFC, and ideographic spaces or full-width letters fold away.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from typing import Final, Literal

from crypto.codename.errors import CodenameError

Language = Literal["en", "ko"]
SIZE: Final = 2048
BITS_PER_WORD: Final = 11

#: SHA-256 of the 2048 normalised words joined by "\n" (BIP-39 english.txt, korean.txt).
PINNED: Final[dict[str, str]] = {
    "en": "187db04a869dd9bc7be80d21a86497d692c0db6abd3aa8cb6be5d618ff757fae",
    "ko": "bdda237495b010e85f5ff409314291fdd9a2e46df45a9620ea5def3296507fc6",
}
# A suggestion further than this (in edit operations on decomposed letters) is a guess.
_MAX_SUGGESTION_DISTANCE: Final = 3


def normalise(text: str) -> str:
    """NFKC, case-folded, NFKC again (case folding can denormalise)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance: edits and adjacent transpositions cost 1."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]


class Wordlist:
    """One pinned list of 2048 words and the index of each word."""

    def __init__(self, lang: Language, words: Sequence[str]) -> None:
        """Raises `CodenameError` unless ``words`` is exactly the pinned v1 list of ``lang``."""
        if lang not in PINNED:
            raise CodenameError("codenames are spelled in English or Korean")
        normalised = tuple(normalise(word) for word in words)
        digest = hashlib.sha256("\n".join(normalised).encode("utf-8")).hexdigest()
        if len(normalised) != SIZE or digest != PINNED[lang]:
            raise CodenameError(f"not the pinned BIP-39 word list for {lang!r}")
        self.lang: Language = lang
        self.words = normalised
        self._index = {word: i for i, word in enumerate(normalised)}
        # Korean typos happen letter by letter (jamo), so suggestions compare decomposed.
        self._decomposed = tuple(unicodedata.normalize("NFD", word) for word in normalised)

    def index(self, word: str) -> int | None:
        """The index of an already `normalise`-d word, or None if it is not in the list."""
        return self._index.get(word)

    def nearest(self, word: str) -> tuple[str, ...]:
        """The list words closest to ``word`` by edit distance, if any are close enough.

        Ties are all returned, in list order: one word picked among equals would mislead.
        """
        target = unicodedata.normalize("NFD", word)
        distances = [_distance(target, candidate) for candidate in self._decomposed]
        best = min(distances)
        if best > _MAX_SUGGESTION_DISTANCE:
            return ()
        return tuple(w for w, d in zip(self.words, distances, strict=True) if d == best)

    def __repr__(self) -> str:
        return f"Wordlist({self.lang!r})"
