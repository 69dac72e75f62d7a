"""The IEC 104 link parameters of a client connection under c104's names (k, w, t0..t3)."""

from __future__ import annotations

import dataclasses
from typing import Any

from otwire.errors import InvalidArgument, LocalProtocolError
from otwire.protocols.iec104 import IEC104Config

__all__ = ["ProtocolParameters"]


class ProtocolParameters:
    """The IEC 104 link parameters of one connection, under c104's property names.

    Times are in seconds (c104 uses whole seconds; fractions are accepted here). Changes
    apply from the next connect. Setters raise :class:`~otwire.errors.InvalidArgument` (a
    ``ValueError``) for values the standard does not allow (e.g. ``w > 2k/3`` or ``t2 >= t1``).
    """

    __slots__ = ("_config",)

    def __init__(self, config: IEC104Config | None = None) -> None:
        self._config = config if config is not None else IEC104Config()

    @property
    def config(self) -> IEC104Config:
        """The parameters as an engine configuration."""
        return self._config

    def _replace(self, **changes: Any) -> None:
        try:
            self._config = dataclasses.replace(self._config, **changes)
        except LocalProtocolError as exc:
            raise InvalidArgument(str(exc)) from exc

    @property
    def send_window_size(self) -> int:
        """k: own I-frames that may be unacknowledged before sending pauses."""
        return self._config.k

    @send_window_size.setter
    def send_window_size(self, value: int) -> None:
        self._replace(k=value)

    @property
    def receive_window_size(self) -> int:
        """w: received I-frames after which an acknowledgement is sent at the latest."""
        return self._config.w

    @receive_window_size.setter
    def receive_window_size(self, value: int) -> None:
        self._replace(w=value)

    @property
    def connection_timeout(self) -> float:
        """t0: seconds a TCP (and TLS) connect may take."""
        return self._config.t0

    @connection_timeout.setter
    def connection_timeout(self, value: float) -> None:
        self._replace(t0=value)

    @property
    def message_timeout(self) -> float:
        """t1: seconds a sent I-frame or U-frame act may wait for its acknowledgement."""
        return self._config.t1

    @message_timeout.setter
    def message_timeout(self, value: float) -> None:
        self._replace(t1=value)

    @property
    def confirm_interval(self) -> float:
        """t2: seconds after which received I-frames are acknowledged at the latest."""
        return self._config.t2

    @confirm_interval.setter
    def confirm_interval(self, value: float) -> None:
        self._replace(t2=value)

    @property
    def keep_alive_interval(self) -> float:
        """t3: idle seconds after which a TESTFR act is sent."""
        return self._config.t3

    @keep_alive_interval.setter
    def keep_alive_interval(self, value: float) -> None:
        self._replace(t3=value)

    def __repr__(self) -> str:
        c = self._config
        return f"<ProtocolParameters k={c.k} w={c.w} t0={c.t0} t1={c.t1} t2={c.t2} t3={c.t3}>"
