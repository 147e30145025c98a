"""Columnar fast path: whole windows of packets parsed and grouped in compiled code.

Only plain Ethernet/raw-IP TCP in classic pcap takes it; every other packet,
and every packet whose handling needs judgement (handshake, teardown, reordering),
goes through the general per-packet path, so both produce identical output.
"""
