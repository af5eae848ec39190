"""What `wise serve` checks of an upload before any worker decodes it: the multipart body read
as it arrives, the name errors call it by, and what a WAV or FLAC header declares (a header
that lies about its length is refused from its first bytes)."""

from __future__ import annotations

import struct
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header

_PCM_TAGS = (1, 3, 0xFFFE)      # WAVE_FORMAT_PCM, _IEEE_FLOAT, _EXTENSIBLE: frames of block_align
_UNKNOWN = (None, None)
# The chunks walked before `data`: real files have a handful; an upload of millions of tiny
# chunks would otherwise cost the event loop seconds. Past this, libsndfile decides.
_MAX_CHUNKS = 64


def declared_audio(head: bytes | bytearray) -> tuple[float | None, int | None] | None:
    """What the header of a WAV or FLAC file says, without decoding it: (seconds of audio,
    byte offset where a WAV's audio data ends), either None where the header does not say
    (another format, a streamed WAV of unknown length, a FLAC without a total). None when
    `head` ends inside the header, so more bytes are needed to tell.

    libsndfile trusts the bytes, not the header (it reads a WAV that declares hours as the
    few frames it holds), so this is what finds a header that lies."""
    n = len(head)
    if n < 12:
        return None if n < 4 or head[:4] in (b"RIFF", b"fLaC") else _UNKNOWN
    if head[:4] == b"fLaC":
        if n < 26:                                          # STREAMINFO's rate and total
            return None
        if head[4] & 0x7F != 0:                             # not STREAMINFO first: malformed
            return _UNKNOWN
        bits = int.from_bytes(head[18:26], "big")           # 20 rate, 3+5 layout, 36 total
        rate, total = bits >> 44, bits & (1 << 36) - 1
        return (total / rate if rate and total else None), None
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return _UNKNOWN
    pos, fmt = 12, None
    for _ in range(_MAX_CHUNKS):
        if pos + 8 > n:
            return None
        chunk, size = head[pos:pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        if chunk == b"fmt ":
            if size < 16:
                return _UNKNOWN
            if pos + 24 > n:
                return None
            fmt = struct.unpack_from("<HHIIH", head, pos + 8)   # tag, channels, rate, B/s, block
        elif chunk == b"data":
            if fmt is None or size in (0, 0xFFFFFFFF):     # no format yet, or length unknown
                return _UNKNOWN
            tag, _, rate, byte_rate, block = fmt
            if tag in _PCM_TAGS and rate and block:
                seconds = size // block / rate
            else:
                seconds = size / byte_rate if byte_rate else None
            return seconds, pos + 8 + size
        pos += 8 + size + (size & 1)                         # chunks are padded to even sizes
    return _UNKNOWN


def header_refusal(audio: bytes | bytearray, name: str, max_seconds: float, *,
                   complete: bool) -> tuple[int, str] | None:
    """(status, error line) when an upload's header alone refuses it: it declares more than
    `max_seconds` of audio (413), or, once the upload is `complete`, more audio data than the
    upload holds (400: cut short, or a header that lies). None: nothing to refuse (yet)."""
    declared = declared_audio(audio)
    if declared is None:
        return None
    seconds, end = declared
    if seconds is not None and seconds > max_seconds:
        return 413, (f"{name}: audio is {seconds:.1f} s long (from its header); the limit is "
                     f"{max_seconds:g} s (the live endpoints take a recording of any length, "
                     "and the web page sends a long file through them)")
    if complete and end is not None and end > len(audio):
        return 400, (f"{name}: the file is cut short or its header is wrong: the header "
                     f"declares {end} bytes, the upload has {len(audio)}")
    return None


class Form:
    """The parts of a multipart/form-data body, in memory: {field name: (filename, bytes)}."""

    def __init__(self, boundary: bytes):
        self.parts: dict[str, tuple[str | None, bytearray]] = {}
        self._header = [bytearray(), bytearray()]
        self._headers: dict[bytes, bytes] = {}
        self._data: bytearray | None = None
        self.parser = MultipartParser(boundary, {
            "on_header_field": lambda d, a, b: self._header[0].extend(d[a:b]),
            "on_header_value": lambda d, a, b: self._header[1].extend(d[a:b]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": lambda d, a, b: self._data.extend(d[a:b]),
        })

    def _header_end(self) -> None:
        self._headers[bytes(self._header[0]).lower()] = bytes(self._header[1])
        self._header = [bytearray(), bytearray()]

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._headers = {}
        self._data = bytearray()
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name and name not in self.parts:  # a repeated field keeps its first value
            filename = options.get(b"filename")
            self.parts[name] = (None if filename is None
                                else filename.decode("utf-8", "replace"), self._data)


def upload_name(filename: str | None) -> str:
    """The name errors use for an upload: its file name without any folders, and without
    control characters (a line break in it would break the one-line errors)."""
    name = Path(filename or "upload").name or "upload"
    return "".join(c if c.isprintable() else "?" for c in name)
