"""The session-less alarm calls against the grpcio peer."""

from __future__ import annotations

import contextlib

import pytest

from helpers import async_wait_until
from otwire.clients.mxgateway import MxAccessError, pb

from .grpcio_peer import GrpcioPeer
from .grpcio_peer_kit import connect, peer, run

__all__ = ["peer"]


def test_acknowledge_query_and_stream_alarms(peer: GrpcioPeer) -> None:
    async def scenario() -> None:
        async with await connect(peer) as client:
            reply = await client.acknowledge_alarm("Area1.Pump1.HiAlarm", comment="seen", operator_name="op")
            assert reply.protocol_status.code == pb.ProtocolStatusCode.OK
            with pytest.raises(MxAccessError, match="ACKNOWLEDGE_ALARM failed") as denied:
                await client.acknowledge_alarm("Denied.Alarm")
            assert denied.value.reply.hresult == -2147220992
            snapshot = [a.alarm_full_reference async for a in client.query_active_alarms("Area1.Pump2")]
            assert snapshot == ["Area1.Pump2.HiAlarm"]
            arms = []
            async with contextlib.aclosing(client.stream_alarms()) as feed:  # type: ignore[type-var]
                async for message in feed:
                    arms.append("active_alarm" if message.active_alarm else "snapshot_complete")
                    if message.snapshot_complete is not None:
                        break
            assert arms == ["active_alarm", "active_alarm", "snapshot_complete"]
            await async_wait_until(peer.gateway.alarm_stream_cancelled.is_set, what="server saw the cancel")

    run(scenario())
    assert peer.gateway.acknowledged[0] == ("Area1.Pump1.HiAlarm", "seen", "op")
