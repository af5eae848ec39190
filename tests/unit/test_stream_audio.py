"""`wise.audio.stream_audio`: a file of any length in blocks that join into what `load_audio`
reads at once, and a file damaged part way gives what came before and says why."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from wise.audio import Stream, load_audio, stream_audio
from wise.errors import WiseError


@pytest.fixture
def stereo(tmp_path):
    x = (np.random.default_rng(0).standard_normal((44100 * 3, 2)) * 0.1).astype(np.float32)
    path = tmp_path / "s.wav"
    sf.write(path, x, 44100, subtype="FLOAT")
    return path


@pytest.mark.parametrize("block_s", [0.3, 1.0, 5.0])
def test_blocks_join_into_what_loading_at_once_gives(stereo, block_s):
    s = Stream()
    blocks = list(stream_audio(stereo, block_s=block_s, stream=s))
    assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    assert len(blocks) >= int(3 / block_s)
    np.testing.assert_array_equal(np.concatenate(blocks), load_audio(stereo))
    assert s.seconds == pytest.approx(3.0) and s.header_seconds == pytest.approx(3.0)
    assert s.damage == ""


def test_a_wav_cut_short_is_kept_up_to_the_cut_and_said_so(stereo, tmp_path):
    cut = tmp_path / "cut.wav"
    data = stereo.read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    s = Stream()
    x = np.concatenate(list(stream_audio(cut, stream=s)))
    assert len(x) == pytest.approx(1.5 * 16000, abs=16)
    assert s.damage == ("the file ends at 1.5 s though its header says 3.0 s: what was "
                        "there was kept")


def test_a_flac_damaged_part_way_gives_what_came_before(tmp_path):
    x = (np.random.default_rng(1).standard_normal(16000 * 10) * 0.1).astype(np.float32)
    sf.write(tmp_path / "a.flac", x, 16000)
    data = (tmp_path / "a.flac").read_bytes()
    (tmp_path / "b.flac").write_bytes(data[:len(data) * 6 // 10])
    s = Stream()
    got = np.concatenate(list(stream_audio(tmp_path / "b.flac", stream=s)))
    assert 4.0 <= len(got) / 16000 <= 6.0
    np.testing.assert_allclose(got, x[:len(got)], atol=1e-4)          # 16-bit FLAC
    assert s.damage.startswith("the audio is damaged after ") and s.damage.endswith(
        "what came before was kept")


def test_a_cap_is_checked_from_the_header_before_any_block(stereo):
    with pytest.raises(WiseError, match=r"audio is 3.0 s long, over the limit of 2 s$"):
        next(stream_audio(stereo, max_seconds=2))
