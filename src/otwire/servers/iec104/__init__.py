"""IEC 60870-5-104 controlled station (outstation) simulator.

Stations and points of any monitor type; answers general and group interrogation,
counter interrogation, clock synchronization, read and test; accepts or refuses
commands per point through a callback, with select-before-execute; spontaneous and
periodic transmission to several clients at once. The API follows the names c104
users know (``Server``, ``add_station``, ``add_point``, ``on_receive``, ``transmit``)::

    from otwire.codecs.iec104 import Cot, TypeId
    from otwire.servers.iec104 import ResponseState, Server

    server = Server(ip="127.0.0.1", port=2404)
    station = server.add_station(common_address=1)
    breaker = station.add_point(io_address=100, type=TypeId.M_SP_NA_1)
    command = station.add_point(io_address=1000, type=TypeId.C_SC_NA_1)
    command.on_receive(callable=lambda point, previous_info, message: ResponseState.SUCCESS)
    server.start()
    breaker.value = True
    breaker.transmit(cause=Cot.SPONTANEOUS)
    server.stop()

:class:`AsyncServer` is the same server inside an asyncio program; :func:`serve` runs the
demo data set (``otwire serve iec104``).
"""

from __future__ import annotations

from otwire.codecs.iec104.values import PointInfo
from otwire.servers.iec104._base import BaseServer, ClockSyncCallback, ConnectCallback, RawCallback
from otwire.servers.iec104._points import (
    CommandMode,
    IncomingMessage,
    Point,
    PointCallback,
    ReceiveCallback,
    ResponseState,
)
from otwire.servers.iec104._station import Batch, Station
from otwire.servers.iec104.demo import DEFAULT_PORT, DEMO_COMMANDS, DEMO_POINTS, populate, serve
from otwire.servers.iec104.server import AsyncServer, Server

__all__ = [
    "DEFAULT_PORT",
    "DEMO_COMMANDS",
    "DEMO_POINTS",
    "AsyncServer",
    "BaseServer",
    "Batch",
    "ClockSyncCallback",
    "CommandMode",
    "ConnectCallback",
    "IncomingMessage",
    "Point",
    "PointCallback",
    "PointInfo",
    "RawCallback",
    "ReceiveCallback",
    "ResponseState",
    "Server",
    "Station",
    "populate",
    "serve",
]
