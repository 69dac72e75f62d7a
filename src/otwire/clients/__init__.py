"""Ready-made protocol clients built from otwire's codecs, engines and transports.

* :mod:`otwire.clients.iec104`: an IEC 60870-5-104 controlling station (client) with the
  object model of the c104 library (``Client``, ``Connection``, ``Station``, ``Point``),
  threaded (:class:`~otwire.clients.iec104.Client`) and asyncio
  (:class:`~otwire.clients.iec104.AsyncClient`).
* :mod:`otwire.clients.imb`: a TNO IMB3 client with pyimb's API (``Client``,
  ``EventDefinition``, ``ek*``/``action*`` constants), threaded, plus ``AsyncClient``.
* :mod:`otwire.clients.i3x`: a CESMII i3X 1.0 client with i3x-client 1.0.0's API
  (``Client``, its callbacks and error classes), one I/O thread per client, plus
  ``AsyncClient``.

Clients hold the policy that engines and transports leave out: reconnects with backoff,
command timeouts, start-up sequences and the mapping of wire data onto points.
"""

from __future__ import annotations
