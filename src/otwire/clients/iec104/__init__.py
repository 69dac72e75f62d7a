"""IEC 60870-5-104 controlling station (client) with the API of the c104 library.

Port a c104 client script by changing its import::

    import otwire.clients.iec104 as c104

    client = c104.Client(command_timeout_ms=5000)
    connection = client.add_connection(ip="10.0.0.5", port=2404, init=c104.Init.ALL)
    station = connection.add_station(common_address=47)
    breaker = station.add_point(io_address=5001, type=c104.Type.C_SC_NA_1)
    client.start()
    ...
    breaker.value = True
    if not breaker.transmit(cause=c104.Cot.ACTIVATION):
        print("refused or timed out")

:class:`Client` runs one background thread for all its connections (see
:mod:`otwire.clients.iec104.client` for the threading rules); :class:`AsyncClient` offers
the same operations as coroutines on an asyncio loop.

Differences from c104 worth knowing:

* Values are plain Python values (see :mod:`otwire.codecs.iec104.values`): ``bool``,
  ``int``, ``float``, :class:`DoublePoint` (alias ``Double``), :class:`DoubleCommandState`,
  :class:`StepCommandState` (alias ``Step``; its "invalid" members are named
  ``NOT_PERMITTED_0/3``). ``Int16(300)``, ``NormalizedFloat(0.5)``, ``SingleCmd(True)`` and
  friends exist as helpers returning those values. ``point.info`` is a :class:`PointInfo`.
* :class:`Quality` is otwire's flag enum: ``Quality.IV``, ``NT``, ``SB``, ``BL``, ``EI``,
  ``OV``; c104's names (``Invalid``, ``NonTopical``, ``Substituted``, ``Blocked``,
  ``ElapsedTimeInvalid``, ``Overflow``) are aliases. "Good" is ``Quality(0)`` (falsy).
* ``transport_security`` is an ``ssl.SSLContext``.
* Callback annotations are not checked; parameters are passed by position.
* Unknown stations and points are reported through ``on_new_station``/``on_new_point``
  (add them there to accept the data) and otherwise ``on_unexpected_message``.
* Log messages go to the ``logging`` logger ``"otwire.clients.iec104"``.
* Errors come from :mod:`otwire.errors` only: argument checks raise ``InvalidArgument``
  (also a ``ValueError``, as c104 raises) or ``InvalidArgumentType`` (also a
  ``TypeError``); a call in the wrong state (``wait_for_state()`` from a callback) raises
  ``InvalidState``. Requests keep c104's ``bool`` results: False on refusal, timeout or
  when not connected; ``connection.last_request_error`` then says why
  (:class:`~otwire.errors.RequestError` with ``code`` = the reply's COT,
  :class:`~otwire.errors.RequestTimeout`, ``InvalidState``, ``ConnectionLost``; ``None``
  after a success).
* ``connection.last_failure`` (a :class:`ConnectionFailure`) says why the connection last
  failed or closed: refused, connect timeout, no STARTDT_CON within t1, t1 expired, peer
  closed, connection lost, protocol error (:class:`FailureReason`); read it in
  ``on_state_change``. The asyncio :class:`StateChange` carries it as ``failure``.
* :class:`AsyncClient` streams (``events()``, ``updates()``) never drop data for a slow
  consumer: a full stream pauses reading, which holds the station back (see
  :class:`EventStream`).
"""

from __future__ import annotations

from otwire.clients.iec104._enums import (
    Coi,
    CommandMode,
    ConnectionState,
    Frz,
    Init,
    Qoc,
    Qoi,
    ResponseState,
    Rqt,
    Umc,
)
from otwire.clients.iec104._failures import ConnectionFailure, FailureReason
from otwire.clients.iec104._info import (
    BinaryCmd,
    Byte32,
    DoubleCmd,
    Int7,
    Int16,
    NormalizedCmd,
    NormalizedFloat,
    ScaledCmd,
    ShortCmd,
    SingleCmd,
    StepCmd,
    UInt5,
    UInt7,
    UInt16,
)
from otwire.clients.iec104._model import IncomingMessage
from otwire.clients.iec104._monitor import format_update, monitor
from otwire.clients.iec104._parameters import ProtocolParameters
from otwire.clients.iec104.aio import (
    AsyncClient,
    AsyncConnection,
    AsyncPoint,
    AsyncStation,
    EventStream,
    PointUpdate,
    StateChange,
    StationInitialized,
)
from otwire.clients.iec104.client import Client, Connection, Point, Station
from otwire.codecs.iec104 import (
    Cot,
    DoubleCommandState,
    DoublePoint,
    OutputCircuit,
    Quality,
    StartEvents,
    StepCommandState,
    TypeId,
)
from otwire.codecs.iec104.values import PointInfo

#: c104's name for the type identification.
Type = TypeId
#: c104's name for double point values (DIQ), also used for double commands.
Double = DoublePoint
#: c104's name for protection event states (SEP).
EventState = DoublePoint
#: c104's name for regulating step command values.
Step = StepCommandState
#: c104's name for output circuit information.
OutputCircuits = OutputCircuit

__all__ = [
    "AsyncClient",
    "AsyncConnection",
    "AsyncPoint",
    "AsyncStation",
    "BinaryCmd",
    "Byte32",
    "Client",
    "Coi",
    "CommandMode",
    "Connection",
    "ConnectionFailure",
    "ConnectionState",
    "Cot",
    "Double",
    "DoubleCmd",
    "DoubleCommandState",
    "DoublePoint",
    "EventState",
    "EventStream",
    "FailureReason",
    "Frz",
    "IncomingMessage",
    "Init",
    "Int7",
    "Int16",
    "NormalizedCmd",
    "NormalizedFloat",
    "OutputCircuits",
    "Point",
    "PointInfo",
    "PointUpdate",
    "ProtocolParameters",
    "Qoc",
    "Qoi",
    "Quality",
    "ResponseState",
    "Rqt",
    "ScaledCmd",
    "ShortCmd",
    "SingleCmd",
    "StartEvents",
    "StateChange",
    "Station",
    "StationInitialized",
    "Step",
    "StepCmd",
    "StepCommandState",
    "Type",
    "UInt5",
    "UInt7",
    "UInt16",
    "Umc",
    "format_update",
    "monitor",
]
