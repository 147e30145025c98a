"""The common case, lean: plain Ethernet/raw-IP TCP in pcap or single-interface pcapng.

Packets of open directions that need no judgement are applied in place; every
other packet goes through the general decoder and flow table, so both paths give
identical output (tests/test_pump.py).
"""
