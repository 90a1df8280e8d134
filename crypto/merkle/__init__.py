"""RFC 6962 / RFC 9162 Merkle trees: hashing, compact ranges, proofs and their verification.

Modules depend one way: rfc6962 <- proof <- compact <- memory, and rfc6962 <- verify.
"""

from crypto.merkle.verify import verify_consistency, verify_inclusion

__all__ = ["verify_consistency", "verify_inclusion"]
