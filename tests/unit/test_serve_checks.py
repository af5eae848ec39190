"""What `wise serve` decides before a worker sees an upload: the audio header's own claims, the
token's form, and which hosts count as this machine only."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf

from wise.errors import WiseError
from wise.serve import check_token, is_loopback
from wise.serve.uploads import declared_audio, header_refusal


def encoded(fmt: str, subtype: str, seconds: float = 2.0, sr: int = 16000) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros((int(seconds * sr), 2), np.float32), sr, format=fmt,
             subtype=subtype)
    return buf.getvalue()


def wav_header(data_bytes: int, sr: int = 16000, extra: bytes = b"") -> bytes:
    riff = min(36 + len(extra) + data_bytes, 0xFFFFFFFF)
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVE" + extra
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sr, 2 * sr, 2, 16)
            + b"data" + struct.pack("<I", data_bytes))


@pytest.mark.parametrize("fmt, subtype", [("WAV", "PCM_16"), ("WAV", "FLOAT"),
                                          ("WAV", "PCM_24"), ("WAV", "ULAW"),
                                          ("FLAC", "PCM_16")])
def test_the_header_tells_the_length_that_libsndfile_reads(fmt, subtype):
    data = encoded(fmt, subtype, 2.5)
    seconds, end = declared_audio(data)
    assert seconds == pytest.approx(sf.info(io.BytesIO(data)).duration)
    assert end is None if fmt == "FLAC" else end == len(data)
    assert header_refusal(data, "a", 2.6, complete=True) is None
    status, error = header_refusal(data, "a", 2.4, complete=True)
    assert status == 413 and error == ("a: audio is 2.5 s long (from its header); the limit "
                                       "is 2.4 s (the live endpoints take a recording of any "
                                       "length, and the web page sends a long file through "
                                       "them)")


def test_a_header_that_lies_about_hours_is_caught_though_libsndfile_reads_it():
    data = wav_header(16000 * 2 * 3600) + bytes(4000)
    assert sf.info(io.BytesIO(data)).frames == 2000     # libsndfile believes the bytes
    assert declared_audio(data) == (3600.0, 44 + 16000 * 2 * 3600)
    assert header_refusal(data, "a.wav", 60, complete=False)[0] == 413


def test_a_cut_short_wav_is_refused_once_complete():
    data = encoded("WAV", "PCM_16", 2.0)
    cut = data[:len(data) // 2]
    assert header_refusal(cut, "a.wav", 60, complete=False) is None   # more may come
    status, error = header_refusal(cut, "a.wav", 60, complete=True)
    assert status == 400 and error == (f"a.wav: the file is cut short or its header is wrong: "
                                       f"the header declares {len(data)} bytes, the upload "
                                       f"has {len(cut)}")


def test_a_header_not_yet_complete_asks_for_more():
    data = wav_header(32000, extra=b"LIST" + struct.pack("<I", 1000) + bytes(1000))
    for n in (0, 3, 11, 20, 500, 1040):
        assert declared_audio(data[:n]) is None, n
    assert declared_audio(data + bytes(32000)) == (1.0, len(data) + 32000)
    assert declared_audio(encoded("FLAC", "PCM_16")[:20]) is None


@pytest.mark.parametrize("data", [
    b"OggS" + bytes(100), b"ID3\x03" + bytes(100), b"not audio at all",
    wav_header(0xFFFFFFFF) + bytes(100),                  # streamed: length unknown
    wav_header(0) + bytes(100),
    b"RIFF\x00\x00\x00\x00WAVEdata\x10\x00\x00\x00" + bytes(16),    # no format chunk
])
def test_what_the_header_does_not_say_is_left_to_the_decoder(data):
    assert declared_audio(data) == (None, None)
    assert header_refusal(data, "a", 1.0, complete=True) is None


def test_a_wav_of_many_tiny_chunks_costs_a_bounded_walk():
    data = b"RIFF\x00\x00\x00\x00WAVE" + b"junk\x00\x00\x00\x00" * 1_000_000
    assert declared_audio(data) == (None, None)


def test_tokens():
    check_token("a" * 16)
    check_token("Abc-._~+/0123456789==")
    for bad in ("a" * 15, "a" * 15 + " ", "ä" * 16, "a" * 16 + "\n", "=" + "a" * 16):
        with pytest.raises(WiseError, match="a token is 16 or more of"):
            check_token(bad)


def test_loopback_hosts():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org", ""):
        assert not is_loopback(host), host
