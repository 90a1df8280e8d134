"""The harness of bench/instructions.py, without valgrind: how it reads callgrind's files."""

from __future__ import annotations

from pathlib import Path

from bench.instructions import callgrind_totals


def test_the_totals_line_of_each_file_is_read_and_a_file_without_one_counts_zero(
    tmp_path: Path,
) -> None:
    dumped = tmp_path / "ours.callgrind.1-01"
    dumped.write_text(
        "# callgrind format\nversion: 1\nevents: Ir\nsummary: 0\n\n"
        "fn=(1) main\n3 1500\n\ntotals: 1234567\n"
    )
    partial = tmp_path / "ours.callgrind.1-02"
    partial.write_text("# callgrind format\nversion: 1\nevents: Ir\nfn=(1) main\n3 15\n")
    assert callgrind_totals([dumped, partial]) == {dumped.name: 1234567, partial.name: 0}
