"""Hub backends on tiny random-weight models built here from configs (no network, no real weights).

These tests check plumbing only — loading from the saved layouts, shapes, distributions, labels,
errors. Outputs of random weights mean nothing and no test reads them as emotions.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")
skimage_data = pytest.importorskip("skimage.data")

from emoalign.affect import get_taxonomy  # noqa: E402
from emoalign.encode.image_hub import CLIPZeroShotImageEncoder, EmpathicFaceEncoder, build_head, head_key, label_phrase, load_heads, space_id_for  # noqa: E402
from emoalign.encode.registry import encoder_class  # noqa: E402
from emoalign.media.synth import image_bytes, synth_image  # noqa: E402

# --------------------------------------------------------------------------------------------
# tiny CLIP with a word-level tokenizer
# --------------------------------------------------------------------------------------------


def build_tiny_clip(path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, PreTrainedTokenizerFast

    words = set()
    for tax in ("mikels8", "fer7"):
        for name in get_taxonomy(tax).names:
            words.update(f"a photo that feels {label_phrase(name)}".split())
    words.update("a calm lake an angry crowd".split())
    vocab = {"[PAD]": 0, "[UNK]": 1, "[BOS]": 2}
    for w in sorted(words):
        vocab[w] = len(vocab)
    vocab["[EOS]"] = len(vocab)  # highest id: CLIP pools the text at the EOS position
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[BOS] $A [EOS]", special_tokens=[("[BOS]", vocab["[BOS]"]), ("[EOS]", vocab["[EOS]"])]
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]", eos_token="[EOS]")
    fast.save_pretrained(path)
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=32, pad_token_id=0, bos_token_id=vocab["[BOS]"], eos_token_id=vocab["[EOS]"],
        ),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4),
        projection_dim=16,
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(path)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(path)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-clip")
    build_tiny_clip(path)
    return path


@pytest.fixture(scope="module")
def clip_enc(clip_dir):
    return CLIPZeroShotImageEncoder(str(clip_dir), local_files_only=True, space="tiny-clip-test")


def test_registry_names():
    assert encoder_class("image-clip-hub") is CLIPZeroShotImageEncoder
    assert encoder_class("face-empathic-hub") is EmpathicFaceEncoder


def test_space_ids_follow_the_model():
    assert CLIPZeroShotImageEncoder().space == "clip-vit-b32"  # no loading happens in __init__
    assert CLIPZeroShotImageEncoder("openai/clip-vit-large-patch14").space == "clip-vit-l14"
    assert space_id_for("laion/CLIP-ViT-H-14-laion2B-s32B-b79K") == "clip-vit-h-14-laion2b-s32b-b79k"
    assert EmpathicFaceEncoder().space == "siglip2-so400m-patch16-384"


def test_prompts_name_every_label():
    enc = CLIPZeroShotImageEncoder("unused", taxonomy="emonet40")
    assert len(enc.prompts) == 40
    assert "a photo that feels pleasure or ecstasy" in enc.prompts
    with pytest.raises(ValueError, match="label"):
        CLIPZeroShotImageEncoder("unused", template="a photo")


def test_clip_shapes_distribution_and_errors(clip_enc):
    imgs = [image_bytes(synth_image(0.5, 0.5, size=48)), b"broken", image_bytes(skimage_data.coffee())]
    res = clip_enc.encode(imgs)
    assert [r.ok for r in res] == [True, False, True]
    assert "cannot decode image" in res[1].error
    for r in (res[0], res[2]):
        assert r.affect.taxonomy == "mikels8"
        assert set(r.affect.probs) == set(get_taxonomy("mikels8").names)
        assert sum(r.affect.probs.values()) == pytest.approx(1.0, abs=1e-6)
        assert r.vector.shape == (16,) and np.linalg.norm(r.vector) == pytest.approx(1.0, abs=1e-5)
        assert len(r.details["logits"]) == 8 and r.details["prompts"][0] == "a photo that feels amusement"


def test_clip_logits_match_the_model_forward(clip_enc, clip_dir):
    """Our cached-text-vector scoring equals CLIPModel's own logits_per_image."""
    from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

    img = skimage_data.chelsea()
    ours = np.array(clip_enc.encode([image_bytes(img)])[0].details["logits"])
    model = CLIPModel.from_pretrained(clip_dir).eval()
    tok = AutoTokenizer.from_pretrained(clip_dir)(clip_enc.prompts, padding=True, return_tensors="pt")
    pixels = AutoImageProcessor.from_pretrained(clip_dir)(images=[img], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        theirs = model(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"], pixel_values=pixels).logits_per_image[0].numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_clip_text_shares_the_image_space(clip_enc):
    txt = clip_enc.embed_text(["a calm lake", "an angry crowd"], ids=("calm", "angry"))
    img = clip_enc.embed([image_bytes(skimage_data.coffee())])
    txt.check_comparable(img)
    assert txt.vectors.shape == (2, 16) and img.vectors.shape == (1, 16)


def test_clip_missing_model_fails_clearly(tmp_path):
    enc = CLIPZeroShotImageEncoder(str(tmp_path / "nowhere"), local_files_only=True)
    with pytest.raises(OSError):
        enc.encode([image_bytes(synth_image(0.1, 0.1, size=32))])


# --------------------------------------------------------------------------------------------
# tiny SigLIP vision tower + EmpathicInsight-style heads
# --------------------------------------------------------------------------------------------

EMB = 24


def head_file_stem(label: str) -> str:
    """The release's file naming: model_<Emotion words joined by _>_best.pth ("&" kept, "/" → "_")."""
    return "model_" + label.replace("/", "_").replace(" ", "_") + "_best"


def save_heads(path, hidden=(16, 8, 4), extra=("Arousal",)) -> None:
    torch.manual_seed(1)
    dims = (EMB, *hidden, 1)
    for label in list(get_taxonomy("emonet40").names) + list(extra):
        state = {}
        for k, (i, o) in enumerate(zip(dims[:-1], dims[1:])):
            layer = torch.nn.Linear(i, o)
            state[f"layers.{3 * k}.weight"] = layer.weight.detach().clone()
            state[f"layers.{3 * k}.bias"] = layer.bias.detach().clone()
        torch.save(state, path / f"{head_file_stem(label)}.pth")


@pytest.fixture(scope="module")
def empathic_dirs(tmp_path_factory):
    from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    vision = tmp_path_factory.mktemp("tiny-siglip")
    torch.manual_seed(0)
    SiglipVisionModel(
        SiglipVisionConfig(image_size=32, patch_size=8, hidden_size=EMB, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4)
    ).save_pretrained(vision)
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(vision)
    heads = tmp_path_factory.mktemp("tiny-heads")
    save_heads(heads)
    return vision, heads


def test_head_file_names_match_labels():
    for label in get_taxonomy("emonet40").names:
        assert head_key(head_file_stem(label)) == head_key(label)
    assert head_key("model_impatience_and_irritability_best") == head_key("Impatience and Irritability")
    assert head_key("model_Intoxication_Altered_States_of_Consciousness_best") == head_key("Intoxication/Altered States of Consciousness")


def test_large_head_layout_loads():
    """The released Large layout: 1152→1024→512→256→1 at layers.0/3/6/9."""
    dims = (1152, 1024, 512, 256, 1)
    state = {}
    for k, (i, o) in enumerate(zip(dims[:-1], dims[1:])):
        state[f"layers.{3 * k}.weight"] = torch.zeros(o, i)
        state[f"layers.{3 * k}.bias"] = torch.zeros(o)
    head = build_head(state, in_dim=1152)
    assert [type(m).__name__ for m in head.layers] == ["Linear", "ReLU", "Dropout"] * 3 + ["Linear"]
    assert head(torch.zeros(2, 1152)).shape == (2, 1)
    with pytest.raises(OSError, match="1152-d"):
        build_head(state, in_dim=768)


def test_missing_heads_are_named(tmp_path):
    save_heads(tmp_path, extra=())
    (tmp_path / f"{head_file_stem('Awe')}.pth").unlink()
    with pytest.raises(FileNotFoundError, match="Awe"):
        load_heads(tmp_path, in_dim=EMB)


def test_empathic_whole_image_mode(empathic_dirs):
    vision, heads = empathic_dirs
    enc = EmpathicFaceEncoder(str(heads), str(vision), detect_faces=False, local_files_only=True, space="tiny-siglip-test")
    res = enc.encode([image_bytes(synth_image(0.2, 0.2, size=40)), b"\x00\x01", image_bytes(skimage_data.astronaut())])
    assert [r.ok for r in res] == [True, False, True]
    for r in (res[0], res[2]):
        face = r.details["faces"][0]
        assert list(face["intensities"]) == list(get_taxonomy("emonet40").names)
        assert set(face["extra"]) == {"arousal"}  # a head outside the 40 is kept, apart
        assert r.vector.shape == (EMB,)
        if r.affect is not None:
            assert r.affect.taxonomy == "emonet40"
            assert sum(r.affect.probs.values()) == pytest.approx(1.0, abs=1e-6)
            positive = {k for k, v in face["intensities"].items() if v > 0}
            assert {k for k, p in r.affect.probs.items() if p > 0} == positive


def test_empathic_heads_see_the_siglip_embedding(empathic_dirs):
    """Intensities equal the saved heads applied to the vision tower's pooled output."""
    from transformers import AutoImageProcessor, SiglipVisionModel

    vision, heads = empathic_dirs
    enc = EmpathicFaceEncoder(str(heads), str(vision), detect_faces=False, local_files_only=True)
    img = skimage_data.coffee()
    got = enc.encode([image_bytes(img)])[0].details["faces"][0]["intensities"]["Anger"]
    pixels = AutoImageProcessor.from_pretrained(vision)(images=[img], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        emb = SiglipVisionModel.from_pretrained(vision).eval()(pixel_values=pixels).pooler_output
    state = torch.load(heads / f"{head_file_stem('Anger')}.pth", weights_only=True)
    x = emb
    for k in (0, 3, 6):
        x = torch.relu(x @ state[f"layers.{k}.weight"].T + state[f"layers.{k}.bias"])
    want = float((x @ state["layers.9.weight"].T + state["layers.9.bias"])[0, 0])
    assert got == pytest.approx(want, abs=1e-4)


def test_empathic_detects_faces_and_refuses_faceless_images(empathic_dirs):
    vision, heads = empathic_dirs
    enc = EmpathicFaceEncoder(str(heads), str(vision), local_files_only=True)
    face, none = enc.encode([image_bytes(skimage_data.astronaut()), image_bytes(synth_image(0.5, 0.5, size=128))])
    assert face.ok and face.details["n_faces"] == 1
    x, y, w, h = face.details["faces"][0]["box"]
    assert 100 < x < 300 and w == h
    assert not none.ok and "no face found" in none.error
