"""Where `tvault` keeps things on this machine, and how it creates those places.

Both the client's home (keys, pinned org fingerprints, session state) and the server's
data dir hold secrets or ciphertext, so both are private to the user (mode 0700).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

APP_NAME = "tvault"


def default_home() -> Path:
    """The user's config dir for tvault (e.g. ~/.config/tvault)."""
    return Path(typer.get_app_dir(APP_NAME))


def default_data_dir() -> Path:
    """The user's data dir for tvault, following each platform's convention."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / APP_NAME
