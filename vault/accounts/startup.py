"""What `tvault serve` does before it listens: schema, keys, and the bootstrap code.

Every start runs it; everything is idempotent, so later starts reuse the database, the
keys and an unused bootstrap code, and print no new code.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from vault.accounts import bootstrap, sealkey
from vault.db import migrate, session_scope
from vault.logkey import load_log_signer
from vault.settings import Settings


def prepare(settings: Settings, engine: Engine) -> str | None:
    """Migrate the database, make or load the server's keys, and return a new bootstrap
    code if the vault has no org and no unused code (else None).

    Precondition: `prepare_data_dir(settings)` ran. Raises `ConfigError` with the fix.
    """
    migrate(settings, engine=engine)
    # The log key must exist before any roster: a roster names it (DESIGN.md section 4).
    load_log_signer(settings, engine)
    sealkey.load_or_create(settings.data_dir)
    with session_scope(engine) as session:
        return bootstrap.ensure_bootstrap_code(session, settings.data_dir)
