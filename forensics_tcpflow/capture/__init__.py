"""Capture reading stage: files in, `Record`s out."""

from .bpf import PacketFilter
from .reader import Capture, detect_format, open_capture
from .record import CaptureError, Record

__all__ = ["Capture", "CaptureError", "PacketFilter", "Record", "detect_format", "open_capture"]
