"""age v1 (c2sp.org/age) on pyca/cryptography: the library contract of DESIGN.md section 3.

One concept per module, after FiloSottile/age: :mod:`.format` (header), :mod:`.stream`
(payload), :mod:`.armor`, :mod:`.primitives`, :mod:`.bech32`, and one module per recipient
type (:mod:`.x25519`, :mod:`.scrypt`, :mod:`.mlkem768x25519`). Every failure is a
:class:`crypto.errors.CryptoError`.
"""

from crypto.age.files import Sealed, decrypt, encrypt, seal, split_header
from crypto.age.header import make_header, rewrap, unwrap_file_key
from crypto.age.primitives import new_file_key
from crypto.age.recipients import generate_identity, recipient_of
from crypto.age.stream import open_payload, seal_payload

__all__ = [
    "Sealed",
    "decrypt",
    "encrypt",
    "generate_identity",
    "make_header",
    "new_file_key",
    "open_payload",
    "recipient_of",
    "rewrap",
    "seal",
    "seal_payload",
    "split_header",
    "unwrap_file_key",
]
