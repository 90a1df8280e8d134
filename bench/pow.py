"""Proof of work: how long the server's check takes, and the client's search beside a bare loop.

    .venv/bin/python -m bench.pow [--bits 20] [--tokens 8] [--verifies 20000]

1. Verify: `crypto.pow.verify` on one solved token, ``--verifies`` times, in five rounds;
   the median round gives microseconds per call (DESIGN.md section 2 asks for < 1 ms).
2. Solve: ``--tokens`` fresh tokens at ``--bits`` (default: the production profile's
   `pow_bits`) solved with `crypto.pow.solve`; the work per token is geometric, so the mean
   over the tokens is what a client waits on average. Beside it in the same run, a plain
   ``hashlib.sha256`` loop hashes the same inputs (token ‖ binding ‖ counter) for as many
   counters as the solves tried in total; ratio = loop time / solve time (1.0: the search
   costs no more than the hashing it must do). Each token is solved once untimed, then
   timed in the order solve, loop, loop, solve, and each side's two times averaged.

The last line is ``pow: verify_us=<μs> solve_s=<mean s> sha256_loop_s=<mean s> ratio=R``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import statistics
import time

from crypto.pow import issue, solve, verify
from crypto.profile import PRODUCTION


def _verify_us(key: bytes, rounds: int, calls: int) -> float:
    now = time.time()
    binding = hashlib.sha256(b"bench upload").digest()
    token = issue(key, bits=8, now=now)
    counter = solve(token, binding=binding)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            verify(key, token, binding=binding, counter=counter, now=now)
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times) * 1e6


def _plain_loop(raw: bytes, binding: bytes, tries: int) -> float:
    start = time.perf_counter()
    for counter in range(tries):
        hashlib.sha256(raw + binding + counter.to_bytes(8, "big")).digest()
    return time.perf_counter() - start


def _timed_solve(token: str, binding: bytes) -> float:
    start = time.perf_counter()
    solve(token, binding=binding)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, default=PRODUCTION.pow_bits)
    parser.add_argument("--tokens", type=int, default=8)
    parser.add_argument("--verifies", type=int, default=20_000)
    args = parser.parse_args()
    key = os.urandom(32)

    verify_us = _verify_us(key, 5, args.verifies)
    print(f"verify: {verify_us:.2f} us per call (median of 5 x {args.verifies})")

    solve_total = loop_total = 0.0
    for n in range(args.tokens):
        token = issue(key, bits=args.bits, now=time.time())
        binding = hashlib.sha256(b"bench upload %d" % n).digest()
        raw = base64.urlsafe_b64decode(token + "==")
        counter = solve(token, binding=binding)
        # ABBA order (solve, loop, loop, solve) so neither side always runs first.
        elapsed = _timed_solve(token, binding)
        loop = _plain_loop(raw, binding, counter + 1) + _plain_loop(raw, binding, counter + 1)
        elapsed = (elapsed + _timed_solve(token, binding)) / 2
        loop /= 2
        solve_total += elapsed
        loop_total += loop
        print(f"solve {n}: {counter + 1} tries, {elapsed:.3f} s; sha256 loop {loop:.3f} s")

    solve_s = solve_total / args.tokens
    loop_s = loop_total / args.tokens
    print(
        f"pow: verify_us={verify_us:.2f} solve_s={solve_s:.3f} "
        f"sha256_loop_s={loop_s:.3f} ratio={loop_s / solve_s:.2f}"
    )


if __name__ == "__main__":
    main()
