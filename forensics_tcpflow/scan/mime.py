"""File name extensions of HTTP bodies from their Content-Type, as tcpflow's MIME map names them.

The table holds the types seen on the web with the extension tcpflow 1.6.1 writes
(its map comes from Apache's mime.types); a type not listed gets no extension, as
in tcpflow (`text/xml` and `application/x-javascript` among them).
"""

from __future__ import annotations

_TABLE = """
application/atom+xml atom   application/ecmascript ecma   application/epub+zip epub
application/java-archive jar   application/javascript js   application/json json   application/msword doc
application/ogg ogx   application/pdf pdf   application/pgp-signature asc   application/pkcs7-signature p7s
application/pkix-cert cer   application/pkix-crl crl   application/postscript ps   application/rdf+xml rdf
application/rss+xml rss   application/rtf rtf   application/vnd.android.package-archive apk
application/vnd.ms-cab-compressed cab   application/vnd.ms-excel xls   application/vnd.ms-fontobject eot
application/vnd.ms-powerpoint ppt   application/vnd.oasis.opendocument.presentation odp
application/vnd.oasis.opendocument.spreadsheet ods   application/vnd.oasis.opendocument.text odt
application/vnd.openxmlformats-officedocument.presentationml.presentation pptx
application/vnd.openxmlformats-officedocument.spreadsheetml.sheet xlsx
application/vnd.openxmlformats-officedocument.wordprocessingml.document docx
application/x-7z-compressed 7z   application/x-bittorrent torrent   application/x-bzip2 bz2
application/x-debian-package deb   application/x-font-otf otf   application/x-font-ttf ttf
application/x-font-woff woff   application/x-gtar gtar   application/x-java-jnlp-file jnlp
application/x-latex latex   application/x-mpegurl m3u8
application/x-pkcs12 p12   application/x-rar-compressed rar   application/x-sh sh
application/x-shockwave-flash swf   application/x-tar tar   application/x-x509-ca-cert crt
application/x-xpinstall xpi   application/xhtml+xml xhtml   application/xml xml   application/xml-dtd dtd
application/xslt+xml xslt   application/zip zip   audio/midi mid   audio/mp4 mp4a   audio/mpeg mpga
audio/ogg ogg   audio/webm weba   audio/x-aac aac   audio/x-aiff aiff   audio/x-mpegurl m3u
audio/x-ms-wma wma   audio/x-wav wav   image/bmp bmp   image/gif gif   image/jpeg jpg   image/png png
image/svg+xml svg   image/tiff tiff   image/vnd.adobe.photoshop psd
image/webp webp   image/x-icon ico   message/rfc822 eml   text/calendar ics   text/css css   text/csv csv
text/html html   text/plain txt   text/richtext rtx   text/tab-separated-values tsv
text/x-vcard vcf   video/3gpp 3gp   video/mp4 m4v   video/mpeg mpg   video/ogg ogv   video/quicktime mov
video/webm webm   video/x-flv flv   video/x-m4v m4v   video/x-ms-wmv wmv   video/x-msvideo avi
"""
_EXTENSIONS = dict(zip(*[iter(_TABLE.split())] * 2))     # "type ext" pairs


def extension(content_type: str) -> str:
    """".ext" for a Content-Type header value (parameters and case ignored), or "" when unknown."""
    base = content_type.split(";", 1)[0].strip().lower()
    found = _EXTENSIONS.get(base)
    return f".{found}" if found else ""
