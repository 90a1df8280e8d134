"""`TVAULT_FUZZ_EXAMPLES=N` runs every fuzz test with N examples (the stress run, see
docs/abuse.md); without it the suite's Hypothesis profile applies and the OpenAPI fuzzer
takes a few examples per operation."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

STRESS_EXAMPLES = int(os.environ.get("TVAULT_FUZZ_EXAMPLES", "0"))
if STRESS_EXAMPLES:
    settings.register_profile(
        "fuzz-stress",
        max_examples=STRESS_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    settings.load_profile("fuzz-stress")
