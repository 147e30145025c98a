"""File-name templates: tcpflow's default byte for byte, and every variable."""

from __future__ import annotations

import ipaddress

import pytest

from forensics_tcpflow.flow.naming import NameFields, TemplateError, build_template, expand


def fields(**kw) -> NameFields:
    base = dict(family=4, src=bytes([10, 0, 0, 1]), dst=bytes([192, 168, 1, 20]), sport=1234, dport=80,
                vlans=(), mac_src=bytes.fromhex("001122334455"), mac_dst=bytes.fromhex("66778899aabb"),
                first_ts_ns=1_384_467_200_123_456_789, connection_count=0, connection_number=1_234_567,
                sensor="cap.pcap")
    base.update(kw)
    return NameFields(**base)


def test_default_ipv4():
    assert expand(build_template(), fields()) == "010.000.000.001.01234-192.168.001.020.00080"


def test_default_ipv6_compressed_and_vlan_and_count():
    f = fields(family=6, src=ipaddress.IPv6Address("2001:db8:1::1").packed,
               dst=ipaddress.IPv6Address("2001:db8:1::2").packed, vlans=(4093, 7), connection_count=2)
    assert expand(build_template(), f) == "2001:db8:1::1.01234-2001:db8:1::2.00080--4093c2"


@pytest.mark.parametrize("template,expected", [
    ("%E-%e", "00:11:22:33:44:55-66:77:88:99:aa:bb"),
    ("%T", "2013-11-14T22:13:20Z"),
    ("%t", "1384467200"),
    ("%#", "0"),
    ("%N/%K/%M/%G", "567/234/1/0"),
    ("%S%%", "cap.pcap%"),
])
def test_variables(template, expected):
    assert expand(build_template(template), fields()) == expected


@pytest.mark.parametrize("letters,prefix", [("k", "234/"), ("m", "1/234/"), ("g", "0/1/234/"), ("t", "1384467200T")])
def test_format_letters(letters, prefix):
    assert expand(build_template(fflags=letters), fields()) == prefix + "010.000.000.001.01234-192.168.001.020.00080"


def test_letter_c_always_counts():
    assert expand(build_template(fflags="c"), fields()).endswith("00080c0")


def test_bad_templates():
    with pytest.raises(TemplateError):
        build_template("%A%")
    with pytest.raises(TemplateError):
        build_template("%Q")
    with pytest.raises(TemplateError):
        build_template(fflags="z")
