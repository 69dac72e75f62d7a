"""XEP-0323 (IoT sensor data) for slixmpp on otwire's readout machines: a drop-in for slixmpp's ``xep_0323``.

Switch a slixmpp application by naming this module when loading the plugin::

    import otwire.clients.xep0323

    xmpp.register_plugin("xep_0323", {"threaded": False}, module=otwire.clients.xep0323)
    xmpp.plugin["xep_0323"].register_node("Device01", device, commTimeout=5.0)        # sensor
    session = xmpp.plugin["xep_0323"].request_data(me, "sensor@example.org/device", cb)  # requester
    result = await xmpp.plugin["xep_0323"].read("sensor@example.org/device", momentary=True)

Same public methods, device interface and callbacks as slixmpp 1.17's plugin (field values are
handed over as the exact strings from the wire), plus :meth:`XEP_0323.read` returning a
:class:`Readout` (awaitable, async-iterable). ``threaded`` is accepted and ignored: all work
runs on slixmpp's event loop. See ``specs/xep0323/plugin.md`` for the differences from
slixmpp's plugin (spoofed stanzas dropped, v0.3+ rejections, field types and separate
``<done/>`` understood, failures not final, comm timeouts per node, no threads).

Importing this module registers :class:`XEP_0323` in slixmpp's plugin registry under
``"xep_0323"`` (slixmpp's registry is process-wide: whichever of the two modules registered
last is what ``register_plugin("xep_0323")`` enables). slixmpp's own ``xep_0323`` is never
imported.
"""

from __future__ import annotations

from slixmpp.plugins.base import register_plugin

from otwire.clients.xep0323.plugin import XEP_0323
from otwire.clients.xep0323.readout import Readout, ReadoutResult

xep_0323 = XEP_0323

register_plugin(XEP_0323)

__all__ = ["XEP_0323", "Readout", "ReadoutResult", "xep_0323"]
