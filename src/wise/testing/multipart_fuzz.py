"""Random and mutated multipart uploads for `POST /predict`, with Hypothesis.

Used by tests/integration/test_serve.py (a bounded count per CI run) and by
benchmarks/faults/soak_serve.py (more cases, counted in its results). Each case is a body and a
Content-Type header: either random bytes under a random Content-Type, or a multipart body
built from parts (the `audio` and `text` fields and others, real clips, cut and lying audio,
random bytes, odd names and file names) and then mutated (bytes flipped, cut, inserted or
repeated), under its own boundary or a wrong one. Every answer must be a prediction or a
one-line JSON error with a 4xx: never a 5xx, a traceback, or a hang (the client's timeout).
"""

from __future__ import annotations

import json
import string
import struct
from collections import Counter

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Statuses a fuzzed upload may get: a prediction, or the service's documented refusals.
ALLOWED = {200, 400, 413, 415, 422}
BOUNDARY_CHARS = string.ascii_letters + string.digits + "'()+_,-./:=? "
HEADER_CHARS = "".join(c for c in string.printable if c not in "\r\n\t\x0b\x0c")


def lying_wav(seconds: float = 3 * 3600.0, sr: int = 16000, present: int = 2000) -> bytes:
    """A 16-bit mono WAV whose header declares `seconds` of audio and holds `present` bytes."""
    size = min(int(seconds * sr) * 2, 0xFFFFFFF0)
    return (b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE" + b"fmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, sr, 2 * sr, 2, 16)
            + b"data" + struct.pack("<I", size) + bytes(present))


def _rarely(draw, n: int) -> bool:
    """True about once in `n` draws. Hypothesis favours the ends of a range, so the rare
    value is one in the middle."""
    return draw(st.integers(0, n - 1)) == n // 2


def _payloads(clips: list[bytes]) -> st.SearchStrategy[bytes]:
    clip = st.sampled_from(clips)
    return st.one_of(
        clip,
        st.tuples(clip, st.floats(0.0, 1.0)).map(lambda c: c[0][:int(len(c[0]) * c[1])]),
        st.builds(lying_wav, st.floats(1.0, 40_000.0), st.sampled_from([8000, 16000, 48000]),
                  st.integers(0, 4000)),
        st.binary(max_size=2048),
        st.binary(max_size=64).map(lambda b: b"RIFF" + b[:4] + b"WAVE" + b[4:]),
        st.binary(max_size=64).map(lambda b: b"fLaC" + b),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )


@st.composite
def _part(draw, clips: list[bytes], name: str | None = None) -> bytes:
    if name is None:
        name = draw(st.one_of(st.sampled_from(["audio", "text", "other", ""]),
                              st.text(HEADER_CHARS, max_size=20)))
    filename = draw(st.one_of(st.none(), st.sampled_from(
        ["clip.wav", "../../etc/passwd", "", "a\\b.flac", "名前.wav", ".", "x" * 300,
         "line\nbreak.wav"]),
        st.text(HEADER_CHARS, max_size=30)))
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    headers = [("Content-Disposition", disposition)]
    if draw(st.booleans()):
        headers.append(("Content-Type", draw(st.sampled_from(
            ["audio/wav", "application/octet-stream", "text/plain; charset=utf-8", "x/y"]))))
    if _rarely(draw, 10):
        headers.append((draw(st.text(HEADER_CHARS, min_size=1, max_size=10)),
                        draw(st.text(HEADER_CHARS, max_size=30))))
    data = draw(_payloads(clips)) if name != "text" else draw(st.one_of(
        st.sampled_from([b"kids are talking by the door", b"", b"   ", b"\xff\xfe"]),
        st.text(max_size=80).map(lambda t: t.encode("utf-8", "surrogatepass"))))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers).encode("utf-8", "surrogatepass")
    return head + b"\r\n" + data


@st.composite
def _mutate(draw, body: bytes) -> bytes:
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 3]))):  # half of them unmutated
        n = len(body)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 64)))
        op = draw(st.sampled_from(["flip", "cut", "insert", "repeat", "end"]))
        if op == "flip" and i < n:
            body = body[:i] + bytes([body[i] ^ draw(st.integers(1, 255))]) + body[i + 1:]
        elif op == "cut":
            body = body[:i] + body[j:]
        elif op == "insert":
            body = body[:i] + draw(st.binary(min_size=1, max_size=32)) + body[i:]
        elif op == "repeat":
            body = body[:j] + body[i:j] + body[j:]
        elif op == "end":
            body = body[:i]
    return body


@st.composite
def cases(draw, clips: list[bytes]) -> tuple[str | None, bytes]:
    """(Content-Type header or None, body) of one upload."""
    if _rarely(draw, 10):                  # not multipart at all, or a header that lies
        content_type = draw(st.one_of(st.none(), st.text(HEADER_CHARS, max_size=60)
                                      .map(str.strip),
                                      st.just("multipart/form-data; boundary=x")))
        return content_type, draw(st.binary(max_size=4096))
    boundary = draw(st.one_of(st.just("wisefuzzBOUNDARY"),
                              st.text(BOUNDARY_CHARS, min_size=1, max_size=70)
                              .map(str.strip).filter(bool)))
    # Mostly an `audio` field, often a `text` one, and sometimes others, in any order.
    parts = draw(st.lists(_part(clips), max_size=2))
    for name, odds in (("audio", 5), ("text", 4)):
        if not _rarely(draw, odds):
            parts.insert(draw(st.integers(0, len(parts))), draw(_part(clips, name)))
    delimiter = b"--" + boundary.encode()
    body = b"preamble\r\n" if _rarely(draw, 8) else b""
    body += b"".join(delimiter + b"\r\n" + p + b"\r\n" for p in parts)
    if not _rarely(draw, 5):
        body += delimiter + b"--\r\n"
    body = draw(_mutate(body))
    declared = boundary if not _rarely(draw, 8) else draw(
        st.text(BOUNDARY_CHARS, min_size=1, max_size=20).map(str.strip))
    content_type = draw(st.sampled_from([
        f"multipart/form-data; boundary={declared}",
        f'multipart/form-data; boundary="{declared}"',
        f"Multipart/Form-Data;boundary={declared}; charset=utf-8",
    ] * 3 + ["multipart/form-data"]))
    return content_type, body


def check(response: httpx.Response) -> str:
    """Asserts that one answer is a prediction or a one-line JSON error with a documented 4xx;
    returns what it was, for the tally ("200 ok", "415", ...)."""
    status = response.status_code
    assert status in ALLOWED, f"{status}: {response.text[:300]}"
    body = json.loads(response.text)
    if status == 200:
        assert body["status"] in ("ok", "no_speech") and "label" in body, body
        return f"200 {body['status']}"
    assert list(body) == ["error"] and isinstance(body["error"], str), body
    assert body["error"] and "\n" not in body["error"] and "Traceback" not in body["error"]
    return str(status)


def run(base_url: str, clips: list[bytes], examples: int, *,
        headers: dict[str, str] | None = None, timeout: float = 60.0) -> Counter:
    """Sends `examples` deterministic cases to `base_url`/predict one after another; returns
    the tally of answers (its total is the number of cases that ran). Raises (Hypothesis's
    falsifying example) on the first answer `check` refuses, or a client timeout."""
    tally: Counter = Counter()
    with httpx.Client(timeout=timeout, headers=headers) as http:

        @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.large_base_example], print_blob=False)
        @given(case=cases(clips))
        def one(case: tuple[str | None, bytes]) -> None:
            content_type, body = case
            sent = {} if content_type is None else {"content-type": content_type}
            tally[check(http.post(f"{base_url}/predict", content=body, headers=sent))] += 1

        one()
    return tally
