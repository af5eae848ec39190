"""`wise predict --plot`'s picture: digital silence is drawn in the spectrogram's floor colour,
not left without a colour (white)."""

from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg

from conftest import speechlike
from wise.plots import SPECTROGRAM_TOP_DB, plot_prediction, prediction_figure, spectrogram_db

SR = 16000


def no_label():
    return SimpleNamespace(file="clip.wav", label=None, label_name=None, probabilities={},
                           message="no speech", transcript_source="none", asr_confidence=None,
                           words=[], word_attention=False)


def speech_then_silence() -> np.ndarray:
    return np.concatenate([speechlike(1.0, SR), np.zeros(SR, np.float32)])


def test_silence_sits_at_the_floor_80_db_under_the_loudest():
    db, _, times = spectrogram_db(speech_then_silence(), SR)
    assert np.isfinite(db).all()
    assert db.min() == pytest.approx(db.max() - SPECTROGRAM_TOP_DB)
    silent = db[:, times > 1.1]
    assert (silent == db.min()).all()
    zeros, _, _ = spectrogram_db(np.zeros(SR, np.float32), SR)     # all silence: all floor
    assert np.isfinite(zeros).all() and zeros.min() == zeros.max()


def test_silence_is_drawn_in_the_floor_colour_not_white(tmp_path):
    fig = prediction_figure(no_label(), speech_then_silence(), sample_rate=SR)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())
    spec = fig.axes[0]
    x, y = spec.transData.transform((1.5, 3000))            # in the silent second, at 3 kHz
    seen = pixels[pixels.shape[0] - int(y), int(x), :3]
    floor = np.round(np.array(colormaps["magma"](0.0)[:3]) * 255)
    np.testing.assert_allclose(seen, floor, atol=2)
    out = plot_prediction(no_label(), speech_then_silence(), tmp_path / "p.png", sample_rate=SR)
    assert out.read_bytes()[:4] == b"\x89PNG"
