"""Dispatch tables: each protocol module registers its handlers here.

Handlers read a layer in place (`buf`, start `off`, captured `end`) instead of
slicing, so a packet is copied only once, into the TCP payload. Link and
ethertype handlers take ``(dec, buf, off, end)``; IP protocol handlers also get
the end the IP header declares and the addresses, as
``(dec, buf, off, end, dend, family, src, dst)``. All return a Segment or None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from .decoder import Decoder
    from .segment import Segment

LayerHandler = Callable[["Decoder", bytes, int, int], Optional["Segment"]]
ProtoHandler = Callable[["Decoder", bytes, int, int, int, int, bytes, bytes], Optional["Segment"]]

LINKTYPES: dict[int, LayerHandler] = {}
ETHERTYPES: dict[int, LayerHandler] = {}
IPPROTOS: dict[int, ProtoHandler] = {}
UDP_PORTS: dict[int, LayerHandler] = {}


def register(table: dict, *keys: int) -> Callable:
    """Decorator: file the handler under every key given."""
    def deco(handler: Callable) -> Callable:
        for key in keys:
            table[key] = handler
        return handler
    return deco
