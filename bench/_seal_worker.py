"""The child process of bench/seal.py: one seal or open with crypto.age, nothing else.

    python -m bench._seal_worker seal RECIPIENT SRC DST
    python -m bench._seal_worker open IDENTITY_FILE SRC DST

It imports as little as it can, because its start-up is counted against ours: the
benchmark times the whole process, as it does for `age`. It prints the seconds the
library call took, files opened and closed included, so the report can also show the
library's own speed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence


def identity_from_file(path: str) -> str:
    """The first AGE-SECRET-KEY line of an age-keygen style identity file."""
    with open(path) as f:
        return next(line.strip() for line in f if line.startswith("AGE-SECRET-KEY-"))


def main(argv: Sequence[str]) -> int:
    import crypto.age  # here, not at the top: `bench.seal` imports this module too

    operation, key, src, dst = argv
    identities = [] if operation == "seal" else [identity_from_file(key)]
    start = time.perf_counter()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        if operation == "seal":
            crypto.age.encrypt(fin, fout, [key])
        else:
            crypto.age.decrypt(fin, fout, identities)
    print(time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
