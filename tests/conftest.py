"""Test-suite configuration: the Hypothesis profiles.

Every property test runs derandomized, so a run is reproducible: the examples
depend only on the test and the profile, never on a clock or a saved database.
``HYPOTHESIS_PROFILE`` selects another profile, for example
``HYPOTHESIS_PROFILE=thorough`` for a longer local search.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=60,
    print_blob=True,
    database=None,
)
settings.register_profile(
    "thorough",
    parent=settings.get_profile("ci"),
    max_examples=2000,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
