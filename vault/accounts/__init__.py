"""Staff accounts: the org's bootstrap, passwords, TOTP, sessions, enrolment and rosters.

One concept per module; `service.Accounts` ties them to an engine and is what the API
holds. Nothing here knows about HTTP: failures are `vault.errors` subclasses.
"""
