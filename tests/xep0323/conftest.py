"""The XEP-0323 tests' shared Prosody: one throw-away server per test session (``prosody`` fixture).

Tests that need it skip with one message when Prosody is not installed (``make test`` installs
it with apt-get where apt exists; see the Makefile's ``prosody`` target).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .prosody import ProsodyServer, ProsodyUnavailable


@pytest.fixture(scope="session")
def prosody() -> Iterator[ProsodyServer]:
    """A running Prosody on 127.0.0.1 with the accounts of ``prosody.ACCOUNTS``; stopped after the session."""
    server = ProsodyServer()
    try:
        server.start()
    except ProsodyUnavailable as exc:
        pytest.skip(f"XMPP tests need Prosody: {exc}")
    try:
        yield server
    finally:
        server.stop()
