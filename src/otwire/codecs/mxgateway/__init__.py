"""MXAccess Gateway messages: betterproto2 classes generated from ``specs/mxgateway/*.proto``.

``pb`` is the ``mxaccess_gateway.v1`` package (commands, replies, events, ``MxValue``, the
``MxAccessGatewayStub`` grpclib client stub and the ``MxAccessGatewayBase`` server base) and
``galaxy`` the ``galaxy_repository.v1`` package (``GalaxyRepositoryStub``/``GalaxyRepositoryBase``).
The ``.proto`` files are reconstructions of the upstream contracts (every element tagged [C]
confirmed, [N] name confirmed, [P] proposed; see ``specs/mxgateway/README.md``); regenerate with
``python specs/mxgateway/generate.py``. Field numbers are those of the reconstruction. The
``generated`` subpackage is the compiler's output, never edited; import it through ``pb`` and ``galaxy``.
:func:`to_mx_value`/:func:`from_mx_value` convert Python values to and from ``MxValue``
(``values.py``). The fast path (``specs/mxgateway/notes.md`` §"Fast path"): :func:`fast_parse`
decodes wire octets into the same betterproto2 objects as ``cls.parse``, several times faster;
:class:`EventEncoder` encodes ``OnDataChange`` events byte-equal to betterproto2.
"""

from __future__ import annotations

from ._fast_decode import fast_parse, fast_parser
from ._fast_encode import EventEncoder
from .generated.galaxy_repository import v1 as galaxy
from .generated.mxaccess_gateway import v1 as pb
from .values import SparseArray, from_mx_value, to_mx_value

__all__ = ["EventEncoder", "SparseArray", "fast_parse", "fast_parser", "from_mx_value", "galaxy", "pb", "to_mx_value"]
