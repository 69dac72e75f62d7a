"""The reconstructed proto3-JSON fixtures (specs/mxgateway/fixtures/README.md) parse and re-serialise equal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from otwire.codecs.mxgateway import pb

FIXTURES = Path(__file__).resolve().parents[2] / "specs" / "mxgateway" / "fixtures"


@pytest.mark.parametrize("name", ["register-reply.json", "write-mxaccess-failure-reply.json"])
def test_fixture_round_trips(name: str) -> None:
    document = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    reply = pb.MxCommandReply.from_dict(document)
    assert reply.to_dict() == document
    assert pb.MxCommandReply.parse(bytes(reply)) == reply


def test_register_fixture_facts() -> None:
    reply = pb.MxCommandReply.from_json((FIXTURES / "register-reply.json").read_text(encoding="utf-8"))
    assert reply.kind == pb.MxCommandKind.REGISTER
    assert reply.register is not None and reply.register.server_handle == 12


def test_failing_write_fixture_facts() -> None:
    text = (FIXTURES / "write-mxaccess-failure-reply.json").read_text(encoding="utf-8")
    reply = pb.MxCommandReply.from_json(text)
    assert reply.protocol_status is not None
    assert reply.protocol_status.code == pb.ProtocolStatusCode.MXACCESS_FAILURE
    assert reply.hresult == -2147220992 == 0x80040200 - 2**32
    status = reply.statuses[0]
    assert (status.success, status.category, status.detail) == (0, pb.MxStatusCategory.SECURITY_ERROR, 321)
