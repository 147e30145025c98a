"""Compressed captures, recognised by their magic bytes and decompressed as a stream.

The file name is never trusted: evidence is often renamed, and a `.pcap` that
is really gzip (or the reverse) must still be read correctly.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable


@dataclass(frozen=True, slots=True)
class Codec:
    name: str
    magic: bytes
    open: Callable[[BinaryIO], BinaryIO]


CODECS: tuple[Codec, ...] = (
    Codec("gzip", b"\x1f\x8b", lambda raw: gzip.GzipFile(fileobj=raw, mode="rb")),
    Codec("bzip2", b"BZh", lambda raw: bz2.BZ2File(raw, mode="rb")),
    Codec("xz", b"\xfd7zXZ\x00", lambda raw: lzma.LZMAFile(raw, mode="rb")),
)

# Longest magic: how many leading bytes `sniff` needs.
MAGIC_BYTES = max(len(codec.magic) for codec in CODECS)

# What a damaged compressed stream (or a failing disk) raises while we read it.
STREAM_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, lzma.LZMAError, zlib.error)


def sniff(head: bytes) -> Codec | None:
    """The codec whose magic starts `head`, or None for an uncompressed stream."""
    for codec in CODECS:
        if head.startswith(codec.magic):
            return codec
    return None


def open_stream(raw: BinaryIO) -> tuple[BinaryIO, str]:
    """Wrap `raw` (positioned at 0) in its decompressor; returns (stream, codec name or "")."""
    head = raw.read(MAGIC_BYTES)
    raw.seek(0)
    codec = sniff(head)
    if codec is None:
        return raw, ""
    return codec.open(raw), codec.name
