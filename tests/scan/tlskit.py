"""Real TLS handshakes made in memory by OpenSSL (Python's ssl with memory BIOs), re-cut into small
records and TCP segments, and written as a pcap of one TCP connection: what -e tls must reassemble."""

from __future__ import annotations

import datetime
import socket
import ssl
from pathlib import Path

import dpkt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CLIENT, SERVER = ("10.0.0.1", 40000), ("10.0.0.2", 8443)     # not 443: the record layer is found on any port
SUBJECT = "CN=tls.example.test,O=forensics-tcpflow tests"
SAN = ("tls.example.test", "alt.example.test")


def self_signed(folder: Path) -> tuple[Path, Path, bytes]:
    """A certificate and key for the server, and the certificate's DER."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name.from_rfc4514_string(SUBJECT)
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(0x1234ABCD).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in SAN]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, cert.public_bytes(serialization.Encoding.DER)


def handshake(folder: Path, tls13: bool, sni: str = "tls.example.test") -> tuple[bytes, bytes, bytes]:
    """(client bytes, server bytes, certificate DER) of a finished handshake, both directions in order."""
    cert_path, key_path, der = self_signed(folder)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_path, key_path)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname, client_ctx.verify_mode = False, ssl.CERT_NONE
    version = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
    for ctx in (server_ctx, client_ctx):
        ctx.maximum_version = ctx.minimum_version = version
        ctx.set_alpn_protocols(["h2", "http/1.1"])
    bios = [ssl.MemoryBIO() for _ in range(4)]
    client = client_ctx.wrap_bio(bios[0], bios[1], server_hostname=sni)
    server = server_ctx.wrap_bio(bios[2], bios[3], server_side=True)
    sent = {"client": bytearray(), "server": bytearray()}
    for _ in range(10):                      # a handshake takes 2 or 3 flights each way
        for side, end, outgoing, peer_in in (("client", client, bios[1], bios[2]), ("server", server, bios[3], bios[0])):
            try:
                end.do_handshake()
            except ssl.SSLWantReadError:
                pass
            data = outgoing.read()
            sent[side] += data
            peer_in.write(data)
    return bytes(sent["client"]), bytes(sent["server"]), der


def rerecord(stream: bytes, size: int) -> bytes:
    """The same bytes with every handshake record cut into records of at most `size` payload bytes
    (handshake messages then span records, as TLS allows)."""
    out, pos = bytearray(), 0
    while pos + 5 <= len(stream):
        kind, version, length = stream[pos], stream[pos + 1:pos + 3], int.from_bytes(stream[pos + 3:pos + 5], "big")
        payload = stream[pos + 5:pos + 5 + length]
        step = size if kind == 22 else len(payload) or 1
        for start in range(0, len(payload), step):
            piece = payload[start:start + step]
            out += bytes([kind]) + version + len(piece).to_bytes(2, "big") + piece
        pos += 5 + length
    return bytes(out + stream[pos:])


def _packet(src: tuple[str, int], dst: tuple[str, int], seq: int, ack: int, flags: int, data: bytes = b"") -> bytes:
    tcp = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=seq, ack=ack, flags=flags, win=65535, data=data)
    ip = dpkt.ip.IP(src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=6, ttl=64, data=tcp)
    ip.len = len(ip)
    return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=0x0800, data=ip))


def write_pcap(path: Path, client: bytes, server: bytes, segment: int = 100) -> None:
    """One connection: handshake, the client's bytes, then the server's, in segments of `segment` bytes, FINs."""
    syn, ack_flag, fin = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_FIN
    cseq, sseq = 1000, 5000
    packets = [_packet(CLIENT, SERVER, cseq, 0, syn), _packet(SERVER, CLIENT, sseq, cseq + 1, syn | ack_flag),
               _packet(CLIENT, SERVER, cseq + 1, sseq + 1, ack_flag)]
    cseq, sseq = cseq + 1, sseq + 1
    for src, dst, data in ((CLIENT, SERVER, client), (SERVER, CLIENT, server)):
        for start in range(0, len(data), segment):
            piece = data[start:start + segment]
            if src == CLIENT:
                packets.append(_packet(src, dst, cseq, sseq, ack_flag, piece))
                cseq += len(piece)
            else:
                packets.append(_packet(src, dst, sseq, cseq, ack_flag, piece))
                sseq += len(piece)
    packets += [_packet(CLIENT, SERVER, cseq, sseq, fin | ack_flag), _packet(SERVER, CLIENT, sseq, cseq + 1, fin | ack_flag),
                _packet(CLIENT, SERVER, cseq + 1, sseq + 1, ack_flag)]
    with open(path, "wb") as fh:
        writer = dpkt.pcap.Writer(fh)
        for index, packet in enumerate(packets):
            writer.writepkt(packet, ts=1_700_000_000 + index / 1000)
