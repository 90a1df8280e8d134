"""The client's one error: a refused action or failed check, printed, exit code 1."""

from __future__ import annotations


class ClientError(Exception):
    """Something the user must read; `tvault` prints it and exits 1."""
