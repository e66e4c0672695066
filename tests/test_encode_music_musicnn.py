"""music-musicnn: the TF-free musicnn port against the original's outputs, its heads, bad input."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from emoalign.cli import cli
from emoalign.media.decode import load_audio
from emoalign.media.synth import clip_bytes, synth_clip

pytest.importorskip("torch")
REF = Path(__file__).parent / "data" / "musicnn_reference.npz"


@pytest.fixture(scope="module")
def ref() -> dict:
    with np.load(REF, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def net():
    from emoalign.encode.musicnn_net import load_musicnn

    return load_musicnn()


def _ref_clip(ref) -> bytes:
    c = json.loads(str(ref["clip"]))
    return clip_bytes(synth_clip(c["valence"], c["arousal"], seconds=c["seconds"], seed=c["seed"]))


# -- the checkpoint reader ----------------------------------------------------------------------
def test_checkpoint_index_lists_the_msd_variables_with_their_shapes():
    from emoalign.encode.musicnn_net import package_model_dir
    from emoalign.encode.tf_checkpoint import read_checkpoint, read_index

    prefix = str(package_model_dir()) + "/"
    idx = read_index(prefix + ".index")
    assert idx["conv2d/kernel"]["shape"] == (7, 38, 1, 204)  # timbral 7 × int(0.4·96), 1.6·128 filters
    assert idx["conv2d_5/kernel"]["shape"] == (7, 561, 1, 64)  # mid-end over the 561 front-end channels
    assert idx["dense/kernel"]["shape"] == (1506, 200) and idx["dense_1/kernel"]["shape"] == (200, 50)
    w = read_checkpoint(prefix, ["batch_normalization_9/moving_variance", "dense_1/bias"])
    assert w["batch_normalization_9/moving_variance"].dtype == np.float32
    assert np.all(w["batch_normalization_9/moving_variance"] > 0)  # variances: a wrong offset would not give this


def test_checkpoint_reader_refuses_what_is_not_a_checkpoint(tmp_path):
    from emoalign.encode.tf_checkpoint import read_checkpoint, read_index

    bad = tmp_path / "x.index"
    bad.write_bytes(b"not an sstable" * 10)
    with pytest.raises(ValueError, match="x.index"):
        read_index(bad)
    with pytest.raises(FileNotFoundError, match="nothing.index"):
        read_checkpoint(tmp_path / "nothing")


# -- the port against TensorFlow ------------------------------------------------------------------
def test_mel_filters_equal_librosas(ref):
    from emoalign.encode.musicnn_net import mel_filters

    assert np.abs(mel_filters() - ref["mel_filters"]).max() <= 1e-7


def test_front_end_reproduces_musicnns_input_spectrogram(ref):
    from emoalign.encode.musicnn_net import log_mel, patches

    wav = _ref_clip(ref)
    assert hashlib.sha256(wav).hexdigest() == str(ref["wav_sha256"]), "the synth generator changed: re-run scripts/musicnn_reference.py"
    batch, padded = patches(log_mel(load_audio(wav)))
    assert batch.shape == ref["batch"].shape and not padded
    # float16 storage can round a value one step differently after a last-bit difference (≤ 3e-4 in log10)
    assert np.abs(batch - ref["batch"]).max() <= 5e-4


def test_network_matches_tensorflow_within_1e4(ref, net):
    out = {k: v.numpy() for k, v in net(ref["batch"]).items()}
    assert np.abs(out["tags"] - ref["tags"]).max() <= 1e-4
    assert np.abs(out["penultimate"] - ref["penultimate"]).max() <= 1e-4
    for pool in ("mean_pool", "max_pool"):  # large activations (up to ~100): relative float32 tolerance
        assert np.abs(out[pool] - ref[pool]).max() <= 1e-5 * max(1.0, np.abs(ref[pool]).max())


def test_pooled_features_end_to_end_match_the_reference(ref):
    from emoalign.encode.music_musicnn import pooled_features

    f = pooled_features(load_audio(_ref_clip(ref)))
    assert f["patches"] == 2 and not f["padded"]
    assert np.abs(f["pen_mean"] - ref["penultimate"].mean(axis=0)).max() <= 1e-4
    assert np.abs(f["tags"] - ref["tags"].mean(axis=0)).max() <= 1e-4


# -- valence / arousal from the quadrant distribution -----------------------------------------------
def test_va_signs_always_name_the_most_probable_quadrant():
    from emoalign.data.music4q import quadrant_of
    from emoalign.encode.music_musicnn import QUADRANTS, va_from_quadrants

    rng = np.random.default_rng(0)
    for p in rng.dirichlet([0.7] * 4, size=2000):
        v, a, adjusted = va_from_quadrants(p)
        assert -1 <= v <= 1 and -1 <= a <= 1
        assert quadrant_of(v, a) == QUADRANTS[int(p.argmax())]
    assert va_from_quadrants(np.array([0.25, 0.25, 0.25, 0.25]))[:2] == (0.0, 0.0)


# -- the shipped heads --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def encoder():
    from emoalign.encode.registry import get_encoder

    return get_encoder("music-musicnn")


def test_shipped_head_loads_with_its_selection(encoder):
    head = encoder.head
    assert head.classes_ == ("Q1", "Q2", "Q3", "Q4")
    assert head.coef_.shape == (4, head.mean_.size)
    meta = head.meta
    assert meta["trained_on"].startswith("music-4q") and "artist-grouped" in meta["selection"]
    assert set(meta["features"]) <= {"pen_mean", "pen_std", "tags", "acoustic", "egemaps"}


def test_encode_gives_quadrants_va_and_emid13(encoder):
    res = encoder.encode([clip_bytes(synth_clip(0.8, 0.8, seconds=6.5, seed=3))])[0]
    assert res.ok, res.error
    d = res.details
    assert res.vector.shape == (400,) and res.vector.dtype == np.float32
    assert abs(sum(d["quadrant"].values()) - 1) < 1e-4 and len(d["tags"]) == 50
    assert abs(sum(res.affect.probs.values()) - 1) < 1e-6 and len(res.affect.probs) == 13
    from emoalign.data.music4q import quadrant_of

    assert quadrant_of(res.affect.valence, res.affect.arousal) == d["quadrant_top"]
    assert d["patches"] == 2 and d["padded"] is False


# -- bad input ---------------------------------------------------------------------------------------
def _mp3(y: np.ndarray) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y, 16000, format="MP3")
    return buf.getvalue()


def test_bad_inputs_get_per_file_errors_or_a_marked_padded_result(encoder, tmp_path):
    good = clip_bytes(synth_clip(-0.7, -0.6, seconds=4.0, seed=1))
    short = clip_bytes(synth_clip(0.5, 0.5, seconds=1.5, seed=2))
    too_short = clip_bytes(synth_clip(0.5, 0.5, seconds=0.3, seed=2))
    silent = clip_bytes(np.zeros(16000 * 4, np.float32))
    corrupt = b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(200)
    mp3 = _mp3(synth_clip(0.6, -0.4, seconds=8.0, seed=4))
    truncated = mp3[: len(mp3) // 2]  # cut mid-stream, like the shared 10-s clips
    missing = tmp_path / "nope.mp3"
    res = encoder.encode([good, short, too_short, silent, corrupt, truncated, str(missing)])
    assert res[0].ok and res[0].details["padded"] is False
    assert res[1].ok and res[1].details["padded"] is True and res[1].details["patches"] == 1
    assert "too short" in res[2].error
    assert "silent" in res[3].error
    assert res[4].error and "decode" in res[4].error
    assert res[5].ok and 3.0 < res[5].details["seconds"] < 5.0  # the decodable half
    assert "nope.mp3" in res[6].error and "no such file" in res[6].error


def test_waveform_with_nan_is_refused(encoder):
    from emoalign.errors import DecodeError

    y = synth_clip(0.5, 0.5, seconds=4.0)
    y[100] = np.nan
    with pytest.raises(DecodeError, match="NaN"):
        encoder.encode_waveform(y)


# -- wiring ------------------------------------------------------------------------------------------
def test_registered_and_listed_with_its_weights_location():
    from emoalign.encode.registry import ENCODERS, encoder_class

    assert "music-musicnn" in ENCODERS and "music-acoustic" in ENCODERS
    cls = encoder_class("music-musicnn")
    assert cls.space == "music-musicnn-v1" and cls.space != encoder_class("music-acoustic").space
    result = CliRunner().invoke(cli, ["backends", "--json"])
    assert result.exit_code == 0, result.output
    row = next(r for r in json.loads(result.output) if r["name"] == "music-musicnn")
    assert row["usable"] and "MSD_musicnn" in row["weights"] and "music_musicnn_quadrant.npz" in row["weights"]


def test_analyze_cli_json_has_valence_and_arousal(tmp_path):
    from emoalign.media.synth import write_clip

    f = write_clip(tmp_path / "calm.wav", synth_clip(0.7, -0.7, seconds=4.0, seed=5))
    result = CliRunner().invoke(cli, ["analyze", "--modality", "music", "--json", str(f)])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output.splitlines()[0])
    assert row["encoder"] == "music-musicnn" and row["error"] is None  # the default music backend, no flag
    assert -1 <= row["valence"] <= 1 and -1 <= row["arousal"] <= 1
    assert set(row["details"]["quadrant"]) == {"Q1", "Q2", "Q3", "Q4"}


@pytest.mark.shared_data
def test_shared_truncated_clips_are_analysed_with_fewer_patches(shared_data, encoder):
    root = shared_data / "music-4q" / "Q1"
    if not root.is_dir():
        pytest.skip("music-4q not in the shared data")
    res = encoder.encode([root / "MT0013621344.mp3", root / "MT0013914319.mp3"])
    for r in res:
        assert r.ok, r.error
        assert r.details["seconds"] < 12 and r.details["patches"] == 3 and not r.details["padded"]
