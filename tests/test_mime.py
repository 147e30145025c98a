"""Body file extensions from Content-Type, as tcpflow 1.6.1 names them (seen on the corpus captures)."""

from __future__ import annotations

import pytest

from forensics_tcpflow.scan.mime import extension


@pytest.mark.parametrize("content_type, ext", [
    ("text/html;charset=UTF-8", ".html"), ("text/html; charset=ISO-8859-1", ".html"), ("image/jpeg", ".jpg"),
    ("image/png", ".png"), ("image/gif", ".gif"), ("text/css", ".css"), ("application/pdf", ".pdf"),
    ("application/zip", ".zip"), ("application/json;charset=UTF-8", ".json"), ("text/plain; charset=UTF-8", ".txt"),
    ("Image/JPEG", ".jpg"), ("application/x-javascript", ""), ("text/xml; charset=utf-8", ""), ("", ""),
])
def test_extension_as_tcpflow(content_type: str, ext: str) -> None:
    assert extension(content_type) == ext
