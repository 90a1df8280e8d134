"""Secrets from the environment when set, else prompted for, never echoed."""

from __future__ import annotations

import os
import sys

import pyotp
import typer

# Names of environment variables, not secrets.
PASSWORD = "TVAULT_PASSWORD"  # noqa: S105
PASSPHRASE = "TVAULT_PASSPHRASE"  # noqa: S105
TOTP = "TVAULT_TOTP"


def secret(variable: str, prompt: str, *, confirm: bool = False) -> str:
    value = os.environ.get(variable)
    if value:
        return value
    entered: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    return entered


def new_totp_secret() -> str:
    """A fresh TOTP secret: 160 bits, base32 (RFC 4226 section 4, R6)."""
    return pyotp.random_base32(32)


def confirm_totp(secret_value: str) -> str:
    """A code proving the authenticator holds `secret_value`.

    Interactive: the user types the code their authenticator shows, so a mistyped secret
    is caught now rather than at the first login. Scripted (stdin not a terminal): the
    client computes it, and the caller has printed the secret for the script to keep.
    """
    if sys.stdin.isatty():
        typer.echo(f"Add this TOTP secret to your authenticator app: {secret_value}", err=True)
        typed: str = typer.prompt("Code from your authenticator", err=True)
        return typed.strip()
    return str(pyotp.TOTP(secret_value).now())
