"""Hypothesis strategies shared by ``tests/`` and ``fuzz/`` (STYLE.md 3.6).

Import protocol strategies as ``from strategies import iec104``; both
``tests/conftest.py`` and ``fuzz/conftest.py`` put ``tests/`` on ``sys.path``
and call :func:`register_profiles`.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

#: Profile loaded when the command line names none (``--hypothesis-profile``).
DEFAULT_PROFILE = "dev"


def register_profiles() -> None:
    """Register the ``dev``, ``ci`` and ``fuzz`` profiles and load ``dev`` unless one is loaded.

    ``dev`` is quick for editing, ``ci`` is what ``make test`` runs (2 cores),
    ``fuzz`` is what ``make fuzz`` runs. The pytest plugin loads the profile
    named by ``--hypothesis-profile`` after the initial conftests, so loading
    ``dev`` here never overrides it; a conftest imported later sees that a
    profile is already active and leaves it alone.
    """
    settings.register_profile("dev", max_examples=50)
    settings.register_profile(
        "ci",
        deadline=None,
        max_examples=150,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "fuzz",
        deadline=None,
        max_examples=20000,
        suppress_health_check=[HealthCheck.too_slow],
    )
    if settings.get_current_profile_name() == "default":
        settings.load_profile(DEFAULT_PROFILE)
