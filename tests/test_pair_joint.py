"""Semantic backends for pairing: spaces never mix; offline axes; text bridge; CLIP+CLAP on tiny random models.

The hub tests build tiny random-weight CLAP and CLIP models from configs (no network, no real
weights) and check plumbing only — loading from saved folders, shapes, unit norms, agreement with
the models' own logits, determinism. Their outputs mean nothing and are never read as semantics.
"""

from __future__ import annotations

import numpy as np
import pytest

from emoalign.encode.joint import BACKENDS, choose_backend, get_backend, input_records, prepare_pair_vectors, record_text
from emoalign.encode.joint_xmodal import AXES, XModalImageEncoder, XModalMusicEncoder, image_cues
from emoalign.encode.registry import available_encoders, encoder_class
from emoalign.media.synth import clip_bytes, image_bytes, synth_clip, synth_image
from emoalign.types import Embeddings, Record


def test_vectors_from_different_spaces_are_refused():
    a = Embeddings(np.ones((2, 3), np.float32), "m", "space-a")
    b = Embeddings(np.ones((2, 3), np.float32), "i", "space-b")
    with pytest.raises(ValueError, match="cannot compare"):
        prepare_pair_vectors(a, b)


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_backend_names_two_encoders_of_one_space(name):
    backend = BACKENDS[name]
    reasons = available_encoders()
    missing = [reasons[n] for n in (backend.music_encoder, backend.image_encoder) if reasons.get(n) is not None]
    if missing:
        pytest.skip(f"{name}: encoder not importable here: {missing[0]}")
    assert backend.space
    assert encoder_class(backend.music_encoder).modality == ("text" if name == "text-bridge" else "music")
    assert encoder_class(backend.image_encoder).modality == ("text" if name == "text-bridge" else "image")


def test_backend_lookup():
    assert get_backend("xmodal").space == "xmodal-v1"
    with pytest.raises(ValueError, match="unknown semantic backend"):
        get_backend("nope")


def test_imagebind_backend_is_guarded_with_a_clear_reason():
    reason = available_encoders()["music-imagebind-hub"]
    try:
        import imagebind  # noqa: F401
    except ImportError:
        assert reason is not None and "imagebind" in reason and "separate environment" in reason
    else:  # an environment that has it: the classes import
        assert reason is None


def test_standardising_centres_each_collection():
    X = Embeddings(np.array([[1.0, 10.0], [3.0, 10.0], [2.0, 13.0]]), "m", "s")
    Y = Embeddings(np.array([[5.0, 0.0], [7.0, 1.0]]), "i", "s")
    Xu, Yu = prepare_pair_vectors(X, Y, standardise=True)
    np.testing.assert_allclose(np.linalg.norm(Xu, axis=1), 1.0, rtol=1e-6)
    # after z-scoring, the clip highest on axis 0 points towards the image highest on axis 0
    assert (Xu @ Yu.T)[1, 1] > (Xu @ Yu.T)[0, 1]


# ---------------------------------------------------------------------------------------------
# Offline: cross-modal correspondence axes
# ---------------------------------------------------------------------------------------------
def test_xmodal_image_cues_follow_the_pixels():
    dark = np.full((32, 32, 3), 30, np.uint8)
    light = np.full((32, 32, 3), 220, np.uint8)
    grey = np.full((32, 32, 3), 128, np.uint8)
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 220
    stripes = np.zeros((32, 32, 3), np.uint8)
    stripes[:, ::2] = 255
    assert image_cues(light)["lightness"] > image_cues(dark)["lightness"]
    assert image_cues(red)["colourfulness"] > image_cues(grey)["colourfulness"] + 50
    assert image_cues(stripes)["edge_density"] > 0.5 > image_cues(grey)["edge_density"]
    assert image_cues(stripes)["contrast"] > image_cues(grey)["contrast"]


def test_xmodal_encoders_give_five_bounded_axes_and_errors_per_input():
    music = XModalMusicEncoder().encode([clip_bytes(synth_clip(0.8, 0.8, seconds=3.0)), b"not audio"])
    assert music[0].ok and not music[1].ok
    assert music[0].vector.shape == (len(AXES),) and np.all(np.abs(music[0].vector) <= 1)
    imgs = XModalImageEncoder().encode([image_bytes(synth_image(0.5, 0.5, size=64)), b"not an image"])
    assert imgs[0].ok and not imgs[1].ok and imgs[0].vector.shape == (len(AXES),)
    assert XModalMusicEncoder.space == XModalImageEncoder.space


def test_xmodal_speed_and_loudness_axes_follow_the_clip():
    enc = XModalMusicEncoder()
    slow, fast = enc.encode([clip_bytes(synth_clip(0.0, -0.9, seconds=6.0)), clip_bytes(synth_clip(0.0, 0.9, seconds=6.0))])
    assert fast.details["raw"]["onset_rate"] > slow.details["raw"]["onset_rate"]
    assert fast.vector[1] > slow.vector[1]  # speed ↔ colourfulness
    assert fast.vector[2] > slow.vector[2]  # the fixture's louder high-arousal clip


# ---------------------------------------------------------------------------------------------
# Offline: the language bridge
# ---------------------------------------------------------------------------------------------
def test_record_text_prefers_own_text_then_feelings_then_file_name():
    cap = Record(id="i.jpg", modality="image", source="s", text="a dog on a beach")
    clip = Record(id="c.mp3", modality="music", source="s", meta={"feeling": {"Calm, relaxing, serene": 0.4, "Dreamy": 0.2}})
    bare = Record(id="x", modality="music", source="s", path="/music/Night_Drive-01.wav")
    assert record_text(cap) == ("a dog on a beach", "text")
    assert record_text(clip) == ("calm, relaxing, serene; dreamy", "feeling")
    assert record_text(bare) == ("Night Drive 01", "filename")
    m, i = input_records(get_backend("text-bridge"), [clip], [cap])
    assert m[0].modality == i[0].modality == "text" and m[0].id == "c.mp3"


def test_auto_picks_text_bridge_only_when_everything_has_text():
    cap = Record(id="i.jpg", modality="image", source="s", text="a dog")
    clip = Record(id="c.mp3", modality="music", source="s", meta={"feeling": {"Dreamy": 0.2}})
    bare = Record(id="d.mp3", modality="music", source="s", path="d.mp3")
    assert choose_backend("auto", [clip], [cap])[0].name == "text-bridge"
    backend, reason = choose_backend("auto", [clip, bare], [cap])
    assert backend.name == "xmodal" and "1 of 3" in reason


# ---------------------------------------------------------------------------------------------
# Hub: CLAP + CLIP prompt profiles on tiny random models
# ---------------------------------------------------------------------------------------------
PROMPTS = ("the sea", "a forest", "a party", "a storm")


def _word_tokenizer(path, words, *, bos_eos=("[BOS]", "[EOS]")):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[UNK]": 1, bos_eos[0]: 2}
    for w in sorted(set(words)):
        vocab[w] = len(vocab)
    vocab[bos_eos[1]] = len(vocab)  # highest id: CLIP pools at the EOS position (argmax of ids)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos_eos[0]} $A {bos_eos[1]}", special_tokens=[(bos_eos[0], vocab[bos_eos[0]]), (bos_eos[1], vocab[bos_eos[1]])]
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", bos_token=bos_eos[0], eos_token=bos_eos[1])
    fast.save_pretrained(path)
    return vocab


@pytest.fixture(scope="module")
def tiny_hub(tmp_path_factory):
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("tokenizers")
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, CLIPConfig, CLIPImageProcessor, CLIPModel

    words = " ".join(PROMPTS).split()
    clap_dir = tmp_path_factory.mktemp("tiny-clap")
    vocab = _word_tokenizer(clap_dir, words)
    torch.manual_seed(0)
    ClapModel(ClapConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                         max_position_embeddings=40, projection_dim=16, pad_token_id=0, bos_token_id=2, eos_token_id=vocab["[EOS]"]),
        audio_config=dict(window_size=4, num_mel_bins=16, spec_size=32, patch_size=4, patch_stride=(4, 4), hidden_size=32,
                          projection_dim=16, depths=[1, 1], num_attention_heads=[2, 2], patch_embeds_hidden_size=16,
                          num_hidden_layers=2, enable_fusion=False),
        projection_dim=16,
    )).save_pretrained(clap_dir)
    ClapFeatureExtractor(feature_size=16, sampling_rate=8000, hop_length=320, max_length_s=2, fft_window_size=512,
                         truncation="rand_trunc", frequency_max=4000).save_pretrained(clap_dir)
    clip_dir = tmp_path_factory.mktemp("tiny-clip")
    vocab = _word_tokenizer(clip_dir, words)
    CLIPModel(CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         max_position_embeddings=32, pad_token_id=0, bos_token_id=2, eos_token_id=vocab["[EOS]"]),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4),
        projection_dim=16,
    )).save_pretrained(clip_dir)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(clip_dir)
    return str(clap_dir), str(clip_dir)


def _pair_encoders(tiny_hub):
    from emoalign.encode.joint_hub import CLAPPromptMusicEncoder, CLIPPromptImageEncoder

    clap, clip = tiny_hub
    kw = dict(clap_id=clap, clip_id=clip, prompts=PROMPTS, local_files_only=True)
    return CLAPPromptMusicEncoder(**kw), CLIPPromptImageEncoder(**kw)


def test_prompt_profiles_share_a_space_named_by_models_and_prompts(tiny_hub):
    from emoalign.encode.joint_hub import CLAPPromptMusicEncoder, prompt_space_id

    menc, ienc = _pair_encoders(tiny_hub)
    assert menc.space == ienc.space == prompt_space_id(*tiny_hub, PROMPTS)
    assert menc.space != CLAPPromptMusicEncoder.space  # other models → another space
    long_clip = clip_bytes(synth_clip(0.3, 0.3, seconds=5.0, sr=8000), sr=8000)  # longer than the 2 s window
    mres = menc.encode([long_clip, long_clip, b"broken"])
    ires = ienc.encode([image_bytes(synth_image(0.2, 0.6, size=48)), b"broken"])
    assert [r.ok for r in mres] == [True, True, False] and [r.ok for r in ires] == [True, False]
    for r in (mres[0], ires[0]):
        assert r.vector.shape == (len(PROMPTS),)
        assert np.all(r.vector >= 0) and np.linalg.norm(r.vector) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(mres[0].vector, mres[1].vector, atol=1e-6)  # a fixed window, not a random crop
    X = Embeddings(mres[0].vector[None], menc.name, menc.space)
    Y = Embeddings(ires[0].vector[None], ienc.name, ienc.space)
    Xu, Yu = prepare_pair_vectors(X, Y)
    assert 0.0 <= float((Xu @ Yu.T)[0, 0]) <= 1.0 + 1e-6  # Bhattacharyya coefficient


def test_clap_profile_matches_the_models_own_audio_logits(tiny_hub):
    import torch
    from transformers import AutoTokenizer, ClapFeatureExtractor, ClapModel

    menc, _ = _pair_encoders(tiny_hub)
    y = synth_clip(-0.4, 0.2, seconds=1.5, sr=8000)
    ours = np.array(menc.encode([clip_bytes(y, sr=8000)])[0].details["logits"])
    clap_dir = tiny_hub[0]
    model = ClapModel.from_pretrained(clap_dir).eval()
    tok = AutoTokenizer.from_pretrained(clap_dir)(list(PROMPTS), padding=True, return_tensors="pt")
    from emoalign.media.decode import load_audio

    feats = ClapFeatureExtractor.from_pretrained(clap_dir)([load_audio(clip_bytes(y, sr=8000), 8000)], sampling_rate=8000, return_tensors="pt")
    with torch.no_grad():
        out = model(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"],
                    input_features=feats["input_features"], is_longer=feats["is_longer"])
    np.testing.assert_allclose(ours, out.logits_per_audio[0].numpy(), rtol=1e-4, atol=1e-4)
