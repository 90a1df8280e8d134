"""Codenames as people see them: words from a pinned list, the last one a check word.

`generate` draws ``words`` indices at random (11 bits each; ten words are 110 bits, the
floor is 100) and appends the check word of :mod:`crypto.codename.checksum`. `parse` reads
what a person typed back, in either language, and says which word is wrong.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import Final

from crypto.codename import checksum
from crypto.codename.errors import CodenameError
from crypto.codename.wordlist import BITS_PER_WORD, SIZE, Language, Wordlist, normalise

MIN_BITS: Final = 100
MIN_WORDS: Final = -(-MIN_BITS // BITS_PER_WORD)  # 10 words, 110 bits
MAX_WORDS: Final = 24
_LANGUAGE_NAMES: Final = {"en": "English", "ko": "Korean"}
# Whitespace (NFKC already turned ideographic spaces into spaces), hyphens, commas, dots.
_SEPARATORS: Final = re.compile(r"[\s,.\-]+")


class Codename:
    """A codename: its word indices, the check word last, and the list that spells them.

    Two codenames are equal when their indices are: the language is only a spelling, and
    derivation never sees it. ``repr`` hides the words; ``str`` spells them.
    """

    __slots__ = ("indices", "wordlist")

    def __init__(self, indices: Sequence[int], wordlist: Wordlist) -> None:
        """Raises `CodenameError` for a wrong count, an index out of range or a bad check."""
        if not MIN_WORDS < len(indices) <= MAX_WORDS + 1:
            raise CodenameError(f"a codename has {MIN_WORDS + 1} to {MAX_WORDS + 1} words")
        if not all(0 <= i < SIZE for i in indices):
            raise CodenameError("a codename word index is out of range")
        if not checksum.is_valid(indices):
            raise CodenameError(
                "the check word does not match: a word is wrong, or two are swapped"
            )
        self.indices = tuple(indices)
        self.wordlist = wordlist

    @property
    def lang(self) -> Language:
        return self.wordlist.lang

    @property
    def entropy_bits(self) -> int:
        """The bits of the random words (the check word adds none)."""
        return BITS_PER_WORD * (len(self.indices) - 1)

    def __str__(self) -> str:
        return " ".join(self.wordlist.words[i] for i in self.indices)

    def __repr__(self) -> str:
        return f"Codename(lang={self.lang!r}, words={len(self.indices)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Codename) and self.indices == other.indices

    def __hash__(self) -> int:
        return hash(self.indices)


def generate(wordlist: Wordlist, *, words: int = MIN_WORDS) -> Codename:
    """A fresh codename of ``words`` random words plus the check word.

    Raises `CodenameError` if ``words`` would carry fewer than 100 bits or is above 24.
    """
    if not MIN_WORDS <= words <= MAX_WORDS:
        raise CodenameError(f"a codename has {MIN_WORDS} to {MAX_WORDS} random words")
    indices = [secrets.randbelow(SIZE) for _ in range(words)]
    return Codename([*indices, checksum.check_word(indices)], wordlist)


def _best_list(tokens: Sequence[str], wordlists: Sequence[Wordlist]) -> Wordlist:
    """The list that knows the most tokens; the first given on a tie."""
    known = [sum(w.index(t) is not None for t in tokens) for w in wordlists]
    best = max(range(len(wordlists)), key=lambda i: (known[i], -i))
    if known[best] == 0:
        names = " or ".join(_LANGUAGE_NAMES[w.lang] for w in wordlists)
        raise CodenameError(f"no word is in the {names} word list")
    return wordlists[best]


def parse(text: str, wordlists: Sequence[Wordlist], *, lang: Language | None = None) -> Codename:
    """Read a typed codename, in whichever of ``wordlists`` it is spelled (or only ``lang``).

    Tolerates any whitespace, hyphens, commas, case, and any Unicode normal form. Raises
    `CodenameError`: for a wrong word count; for a word in no list, with its ``position``
    and the nearest list words as ``suggestions``; and when the check word does not match.
    """
    lists = [w for w in wordlists if lang is None or w.lang == lang]
    if not lists:
        raise CodenameError("no word list was given for this language")
    tokens = [t for t in _SEPARATORS.split(normalise(text)) if t]
    if not MIN_WORDS < len(tokens) <= MAX_WORDS + 1:
        raise CodenameError(
            f"a codename has {MIN_WORDS + 1} to {MAX_WORDS + 1} words, not {len(tokens)}"
        )
    wordlist = _best_list(tokens, lists)
    indices: list[int] = []
    for position, token in enumerate(tokens, 1):
        index = wordlist.index(token)
        if index is None:
            raise CodenameError(
                f"word {position} is not in the {_LANGUAGE_NAMES[wordlist.lang]} word list",
                position=position,
                suggestions=wordlist.nearest(token),
            )
        indices.append(index)
    return Codename(indices, wordlist)
