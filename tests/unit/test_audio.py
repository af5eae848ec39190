import numpy as np
import pytest
import soundfile as sf

from conftest import speechlike, write_wav
from wise.audio import audio_info, load_audio
from wise.errors import WiseError


def test_stereo_is_mixed_down_and_other_rates_resampled(tmp_path):
    left = speechlike(1.0, 44100)
    stereo = np.stack([left, -left * 0.5], axis=1)
    sf.write(tmp_path / "s.wav", stereo, 44100, subtype="FLOAT")
    x = load_audio(tmp_path / "s.wav")
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - 16000) <= 1
    mono = load_audio_of(left * 0.25, 44100, tmp_path)
    np.testing.assert_allclose(x, mono, atol=1e-4)


def load_audio_of(x, sr, tmp_path):
    sf.write(tmp_path / "m.wav", x, sr, subtype="FLOAT")
    return load_audio(tmp_path / "m.wav")


def test_16k_mono_is_read_unchanged(tmp_path):
    write_wav(tmp_path / "a.wav", 0.5)
    x = load_audio(tmp_path / "a.wav")
    ref, sr = sf.read(tmp_path / "a.wav", dtype="float32")
    assert sr == 16000
    np.testing.assert_array_equal(x, ref)


@pytest.mark.parametrize("content,message", [
    (None, "audio file not found"),
    (b"", r"audio file is empty \(0 bytes\)"),        # not libsndfile's "unknown format"
    (b"RIFF\x24\x00\x00\x00WAVEfmt junkjunkjunk", "not a readable audio file"),
    (b"hello, I am text", "not a readable audio file"),
])
def test_bad_files_raise_one_clear_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(WiseError, match=message) as e:
        load_audio(path)
    assert e.value.path == str(path)
    assert "\n" not in e.value.line()
    with pytest.raises(WiseError, match=message):
        audio_info(path)


def test_a_folder_is_not_an_audio_file(tmp_path):
    for read in (load_audio, audio_info):
        with pytest.raises(WiseError, match="is a folder, not an audio file") as e:
            read(tmp_path)
        assert e.value.path == str(tmp_path)


def test_zero_length_audio_is_refused(tmp_path):
    sf.write(tmp_path / "z.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(WiseError, match="empty"):
        load_audio(tmp_path / "z.wav")
    assert audio_info(tmp_path / "z.wav") == (16000, 1, 0)


def test_atomic_writes_get_ordinary_permissions_and_leave_nothing_on_error(tmp_path):
    import os

    from wise.fsutil import atomic_file, atomic_write_text

    atomic_write_text(tmp_path / "a.txt", "hello")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask
    with pytest.raises(RuntimeError), atomic_file(tmp_path / "a.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert (tmp_path / "a.txt").read_text() == "hello"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
