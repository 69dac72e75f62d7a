"""Shared pieces of the client tests: the grpcio peer fixture and connecting to it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from otwire.clients.mxgateway import GatewayClient

from .grpcio_peer import KEY, GrpcioPeer

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one scenario on a fresh loop, bounded so that a hang fails instead of blocking."""
    return asyncio.run(asyncio.wait_for(coro, 30))


@pytest.fixture
def peer() -> Iterator[GrpcioPeer]:
    with GrpcioPeer() as started:
        yield started


async def connect(peer: GrpcioPeer, key: str = KEY, **kwargs: Any) -> GatewayClient:
    return await GatewayClient.connect(endpoint=peer.endpoint, api_key=key, plaintext=True, **kwargs)
