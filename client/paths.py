"""Where `tvault` keeps things on this machine, and how it creates those places.

Both the client's home (keys, pinned org fingerprints, session state) and the server's
data dir hold secrets or ciphertext, so both are created private to the user (mode 0700).
"""

from __future__ import annotations

import os
import stat
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


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) if missing, and make it mode 0700.

    Raises OSError when it cannot be created or made private, e.g. when it belongs to
    another user.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        path.chmod(0o700)
    return path
