"""MXAccess Gateway messages: betterproto2 classes generated from ``specs/mxgateway/*.proto``.

``pb`` is the ``mxaccess_gateway.v1`` package (commands, replies, events, ``MxValue``, the
``MxAccessGatewayStub`` grpclib client stub and the ``MxAccessGatewayBase`` server base) and
``galaxy`` the ``galaxy_repository.v1`` package (``GalaxyRepositoryStub``/``GalaxyRepositoryBase``).
The ``.proto`` files are reconstructions of the upstream contracts (every element tagged [C]
confirmed, [N] name confirmed, [P] proposed; see ``specs/mxgateway/README.md``); regenerate with
``python specs/mxgateway/generate.py``. Field numbers are those of the reconstruction.
"""

from __future__ import annotations

from ._generated.galaxy_repository import v1 as galaxy
from ._generated.mxaccess_gateway import v1 as pb

__all__ = ["galaxy", "pb"]
