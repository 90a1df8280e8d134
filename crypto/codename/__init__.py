"""Source codenames (DESIGN.md section 3): words people can carry, and the keys they give.

:mod:`.wordlist` (the pinned BIP-39 lists, handed in by the caller), :mod:`.checksum` (the
check word), :mod:`.phrase` (generate and parse), :mod:`.derive` (v1 keys). Every failure
is a `CodenameError`, whose message never holds a codename word.
"""

from crypto.codename.derive import CodenameKeys, derive, lookup_hash, verify_followup
from crypto.codename.errors import CodenameError
from crypto.codename.phrase import Codename, generate, parse
from crypto.codename.wordlist import Language, Wordlist

__all__ = [
    "Codename",
    "CodenameError",
    "CodenameKeys",
    "Language",
    "Wordlist",
    "derive",
    "generate",
    "lookup_hash",
    "parse",
    "verify_followup",
]
