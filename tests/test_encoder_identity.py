"""An encoder's identity is its configured instance: options that change outputs (another
checkpoint, gain, template…) get their own instance, their own feature-store rows and their own
cache keys; options that do not (device, batch size) do not."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pytest

from emoalign.encode.base import Encoder, EncodeResult, Input, safe_encode
from emoalign.encode.registry import ENCODERS, encoder_identity, get_encoder
from emoalign.media.decode import load_audio
from emoalign.media.synth import synth_clip, write_clip
from emoalign.store import FeatureTable, extract
from emoalign.types import Record


class GainEncoder(Encoder):
    """RMS of the decoded clip times ``gain``: the simplest encoder whose output depends on an option."""

    name = "test-gain"
    modality = "music"
    space = "test-gain/v1"

    def __init__(self, gain: float = 1.0, batch_size: int = 8) -> None:
        self.gain = gain
        self.batch_size = batch_size

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        return safe_encode(self._one, inputs)

    def _one(self, item: Input) -> EncodeResult:
        y = load_audio(item, sr=16000)
        return EncodeResult(vector=np.array([self.gain * float(np.sqrt(np.mean(y ** 2)))], np.float32))


@pytest.fixture(autouse=True)
def registered():
    ENCODERS["test-gain"] = f"{__name__}:GainEncoder"
    yield
    ENCODERS.pop("test-gain", None)


def test_options_that_change_outputs_make_another_identity():
    default = encoder_identity("test-gain")
    assert default.store_name == "test-gain" and default.config == {"gain": 1.0}
    assert encoder_identity("test-gain", {"gain": 1.0}).store_name == "test-gain"  # the default, spelled out
    assert encoder_identity("test-gain", {"batch_size": 64}).store_name == "test-gain"  # runtime only
    doubled = encoder_identity("test-gain?gain=2")
    assert doubled.store_name.startswith("test-gain@") and doubled.config == {"gain": 2}


def test_get_encoder_builds_one_instance_per_configuration():
    assert get_encoder("test-gain") is get_encoder("test-gain")
    assert get_encoder("test-gain", gain=2.0) is not get_encoder("test-gain")
    assert get_encoder("test-gain", gain=2.0).gain == 2.0


def test_unknown_option_is_named():
    with pytest.raises(TypeError, match="gian"):
        get_encoder("test-gain", gian=2.0)


def test_hub_checkpoint_from_the_environment_is_part_of_the_identity(monkeypatch, tmp_path):
    """The bug this fixes: another CLIP checkpoint chosen by environment variable shared rows and
    the space id of the default one. No model is loaded to tell them apart."""
    default = encoder_identity("image-clip-hub")
    monkeypatch.setenv("EMOALIGN_CLIP_MODEL", str(tmp_path / "my-clip"))
    other = encoder_identity("image-clip-hub")
    assert other.store_name != default.store_name
    assert other.space != default.space
    assert other.config["model_id"] == str(tmp_path / "my-clip")


def test_feature_store_keeps_configurations_apart(tmp_path):
    clip = write_clip(tmp_path / "a.wav", synth_clip(0.5, 0.5, seconds=1.0))
    records = [Record(id="a", modality="music", source="t", path=str(clip))]
    feats = tmp_path / "feats"
    first = extract(records, "test-gain", feats, workers=1, progress=False)
    second = extract(records, "test-gain?gain=2", feats, workers=1, progress=False)
    assert (first.computed, second.computed) == (1, 1)  # nothing reused across configurations
    again = extract(records, "test-gain", feats, workers=1, progress=False, encoder_config={"gain": 2.0})
    assert (again.computed, again.reused) == (0, 1)
    table = FeatureTable(feats)
    one = table.vectors(["a"], encoder="test-gain").vectors[0, 0]
    two = table.vectors(["a"], encoder="test-gain?gain=2").vectors[0, 0]
    assert two == pytest.approx(2 * one, rel=1e-6)
    assert sorted(table.encoders()) == sorted(["test-gain", second.encoder])
