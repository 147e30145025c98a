"""Community ID v1 against the spec's published baseline vectors."""

from ipaddress import ip_address

import pytest

from forensics_tcpflow.flow.community_id import community_id

# (proto, saddr, sport, daddr, dport, seed, expected): corelight community-id-spec baseline and Zeek's tests.
VECTORS = [
    (6, "128.232.110.120", 34855, "66.35.250.204", 80, 0, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
    (6, "1.2.3.4", 1122, "5.6.7.8", 3344, 0, "1:wCb3OG7yAFWelaUydu0D+125CLM="),
    (6, "1.2.3.4", 1122, "5.6.7.8", 3344, 1, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="),
    (17, "1.2.3.4", 1122, "5.6.7.8", 3344, 0, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="),
    (17, "1.2.3.4", 1122, "5.6.7.8", 3344, 1, "1:OShq+iKDAMVouh/4bMxB9Sz4amw="),
    (17, "192.168.1.52", 54585, "8.8.8.8", 53, 0, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
    (132, "192.168.170.8", 7, "192.168.170.56", 7, 0, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="),
    (6, "2001:470:e5bf:dead:4957:2174:e82c:4887", 63943, "2607:f8b0:400c:c03::1a", 25, 0,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
]


@pytest.mark.parametrize("proto,saddr,sport,daddr,dport,seed,expected", VECTORS)
def test_vectors_both_directions(proto, saddr, sport, daddr, dport, seed, expected):
    s, d = ip_address(saddr), ip_address(daddr)
    assert community_id(s.version, s.packed, d.packed, sport, dport, proto, seed) == expected
    assert community_id(s.version, d.packed, s.packed, dport, sport, proto, seed) == expected


def test_same_address_ports_decide():
    a = ip_address("10.0.0.1").packed
    assert community_id(4, a, a, 80, 1234) == community_id(4, a, a, 1234, 80)


@pytest.mark.parametrize("family,src", [(4, bytes(16)), (6, bytes(4)), (5, bytes(4))])
def test_bad_family_or_length(family, src):
    with pytest.raises(ValueError):
        community_id(family, src, src, 1, 2)
