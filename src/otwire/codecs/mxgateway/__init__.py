"""MXAccess Gateway messages: betterproto2 classes generated from ``specs/mxgateway/*.proto``.

``pb`` is the ``mxaccess_gateway.v1`` package (commands, replies, events, ``MxValue``, the
``MxAccessGatewayStub`` grpclib client stub and the ``MxAccessGatewayBase`` server base) and
``galaxy`` the ``galaxy_repository.v1`` package (``GalaxyRepositoryStub``/``GalaxyRepositoryBase``).
The ``.proto`` files are reconstructions of the upstream contracts (every element tagged [C]
confirmed, [N] name confirmed, [P] proposed; see ``specs/mxgateway/README.md``); regenerate with
``python specs/mxgateway/generate.py``. Field numbers are those of the reconstruction.
:func:`to_mx_value`/:func:`from_mx_value` convert Python values to and from ``MxValue``
(``values.py``).
"""

from __future__ import annotations

from ._generated.galaxy_repository import v1 as galaxy
from ._generated.mxaccess_gateway import v1 as pb
from .values import SparseArray, from_mx_value, to_mx_value

__all__ = ["SparseArray", "from_mx_value", "galaxy", "pb", "to_mx_value"]
