"""Exports of a matching set: a Hugging Face ``datasets`` DatasetDict and chat-format JSONL.

Both read the same prepared media (`prepare_media`): every clip decoded once to 16 kHz mono
16-bit WAV, every image checked to decode and copied byte for byte. Then

* `write_hf` — ``DatasetDict`` with EMID-Emotion-Matching's columns (``audio``,
  ``sampling_rate``: int32, ``image``: ``Image()``, ``same``: bool,
  ``emotion``/``question``/``answer``: string), saved with ``save_to_disk`` and loadable with
  ``datasets.load_from_disk``. The ``audio`` column holds the decoded clip — a struct
  ``{"path", "array" (float32, mono), "sampling_rate"}``, the form ``datasets`` < 4 returned
  for ``Audio`` — rather than an ``Audio`` feature, because ``datasets`` ≥ 4 decodes ``Audio``
  only through ``torchcodec``, whose PyPI build needs CUDA PyTorch and FFmpeg: a plain install
  could not read a row. ``load_from_disk(OUT/"hf")["train"][0]["audio"]["array"]`` is the clip;
  the 16-bit WAV files stay in the media folder the JSONL export points at;
* `write_jsonl` — one line per example in the Qwen2.5-Omni chat format: a user turn whose
  content items are the audio, the image and the question, and an assistant turn with the
  answer; media paths are relative to the JSONL file (``media/audio/…``, ``media/images/…``).

Same examples + same media → byte-identical files: no timestamps, sorted keys where order is
free, a fingerprint derived from the content instead of ``datasets``' random one.

>>> line = chat_line(Example("train-000000", "m", "i.jpg", True, "awe", "Same?", "yes - awe", "train", "awe", "awe"),
...                  "media/audio/m.wav", "media/images/i.jpg")
>>> [c["type"] for c in line["messages"][0]["content"]], line["messages"][1]["content"][0]["text"]
(['audio', 'image', 'text'], 'yes - awe')
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from emoalign.pair.matching import Example
from emoalign.progress import progress_bar
from emoalign.types import AUDIO_MODALITIES, IMAGE_MODALITIES, Record

SAMPLING_RATE = 16000
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
_PIL_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "BMP": ".bmp", "WEBP": ".webp", "GIF": ".gif", "TIFF": ".tif"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Rows per Arrow record batch while writing (bounds memory whatever the set's size).
BATCH_ROWS = 256


@dataclass
class PreparedMedia:
    """Media written under ``root``: id → path relative to ``root``; plus what failed and why."""

    root: Path
    audio: dict[str, str] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def safe_name(item_id: str, used: set[str], suffix: str = "") -> str:
    """A file name for an id: unsafe characters → ``_``, a short hash added on collision.

    >>> used = set(); safe_name("a/b c.mp3", used, ".wav"), safe_name("a b/c.mp3", used, ".wav")
    ('a_b_c.mp3.wav', 'a_b_c.mp3-344c9d47.wav')
    """
    stem = _UNSAFE.sub("_", item_id).strip("._") or "item"
    name = stem[:150] + suffix
    if name in used:
        name = f"{stem[:140]}-{hashlib.sha1(item_id.encode()).hexdigest()[:8]}{suffix}"
    used.add(name)
    return name


def _media_input(record: Record):
    if record.payload is not None:
        return record.payload
    if record.path:
        return record.path
    raise ValueError(f"record {record.id!r} has neither a path nor embedded bytes")


def prepare_media(
    records: Iterable[Record],
    audio_ids: set[str],
    image_ids: set[str],
    root: str | Path,
    *,
    sampling_rate: int = SAMPLING_RATE,
    progress: bool = False,
) -> PreparedMedia:
    """Decode the wanted clips to WAV (mono, ``sampling_rate``) and copy the wanted images under ``root``.

    Records are consumed as they come (a hub source's embedded bytes are not all held at once).
    A file that fails to decode is skipped and named in ``problems``. Output names are assigned
    in sorted id order, so they do not depend on the order records arrive in.
    """
    import soundfile as sf

    from emoalign.errors import DecodeError
    from emoalign.media.decode import load_audio, load_image

    root = Path(root)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(parents=True, exist_ok=True)
    out = PreparedMedia(root)
    used_audio: set[str] = set()
    used_images: set[str] = set()
    audio_names = {i: "audio/" + safe_name(i, used_audio, ".wav") for i in sorted(audio_ids)}
    image_names = {i: "images/" + safe_name(i, used_images) for i in sorted(image_ids)}
    failed: set[str] = set()
    bar = None
    if progress:
        bar = progress_bar(total=len(audio_ids) + len(image_ids), unit="file", desc="media", enabled=True)
    for record in records:
        is_audio = record.id in audio_ids and record.modality in AUDIO_MODALITIES and record.id not in out.audio
        is_image = record.id in image_ids and record.modality in IMAGE_MODALITIES and record.id not in out.images
        if not (is_audio or is_image):
            continue
        try:
            data = _media_input(record)
            if is_audio:
                y = load_audio(data, sampling_rate)
                buf = io.BytesIO()
                sf.write(buf, y, sampling_rate, format="WAV", subtype="PCM_16")
                rel = audio_names[record.id]
                (root / rel).write_bytes(buf.getvalue())
                out.audio[record.id] = rel
            else:
                raw = data if isinstance(data, bytes) else Path(data).read_bytes()
                load_image(raw)  # refuse what cannot be decoded (or is a bomb)
                rel = image_names[record.id]
                if Path(rel).suffix.lower() not in IMAGE_SUFFIXES:
                    rel += _pil_suffix(raw)
                (root / rel).write_bytes(raw)
                out.images[record.id] = rel
        except (DecodeError, ValueError, OSError) as exc:
            failed.add(record.id)
            out.problems.append(f"{record.path or record.id}: {exc}")
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    for i in sorted(audio_ids - set(out.audio) - failed):
        out.problems.append(f"{i}: music clip not found among the source's records")
    for i in sorted(image_ids - set(out.images) - failed):
        out.problems.append(f"{i}: image not found among the source's records")
    return out


def _pil_suffix(raw: bytes) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(raw)) as im:
        return _PIL_SUFFIX.get(im.format or "", ".img")


def usable(examples: Sequence[Example], media: PreparedMedia) -> list[Example]:
    """The examples whose clip and image were both prepared."""
    return [e for e in examples if e.music_id in media.audio and e.image_id in media.images]


# ---------------------------------------------------------------------------------------------
# Hugging Face datasets
# ---------------------------------------------------------------------------------------------
def hf_features():
    """EMID-Emotion-Matching's columns, in its order; ``audio`` decoded (see the module doc)."""
    import datasets

    return datasets.Features({
        "audio": {
            "path": datasets.Value("string"),
            "array": datasets.Sequence(datasets.Value("float32")),
            "sampling_rate": datasets.Value("int32"),
        },
        "sampling_rate": datasets.Value("int32"),
        "image": datasets.Image(),
        "same": datasets.Value("bool"),
        "emotion": datasets.Value("string"),
        "question": datasets.Value("string"),
        "answer": datasets.Value("string"),
    })


def write_hf(
    examples: Sequence[Example], media: PreparedMedia, out_dir: str | Path, *, splits: Sequence[str] = ("train", "test"),
    progress: bool = False, overwrite: bool = False,
) -> Path:
    """Write a ``DatasetDict`` (one dataset per split) with ``save_to_disk``; returns its folder.

    Rows are written to Arrow in batches (memory stays bounded); the split's fingerprint is a
    hash of its content, so repeated runs give identical ``state.json`` files. The dataset is
    saved to a hidden sibling folder and renamed into place; an existing ``out_dir`` is refused
    unless ``overwrite``, and even then only a saved ``DatasetDict`` is replaced.
    """
    import uuid

    import datasets
    import pyarrow as pa
    from datasets.table import MemoryMappedTable

    from emoalign.outputs import OutputExistsError, swap_folder

    out_dir = Path(out_dir)
    if out_dir.exists():
        if not overwrite:
            raise OutputExistsError(f"{out_dir} already exists; pass overwrite=True to replace it")
        if not (out_dir / "dataset_dict.json").is_file():
            raise OutputExistsError(f"{out_dir} exists and is not a saved DatasetDict; refusing to delete it")
    run = uuid.uuid4().hex[:12]
    tmp = out_dir.parent / f".{out_dir.name}.{run}.rows"
    saved = out_dir.parent / f".{out_dir.name}.{run}.saved"
    tmp.mkdir(parents=True)
    features = hf_features()
    schema = features.arrow_schema
    try:
        parts = {}
        for split in splits:
            rows = [e for e in examples if e.split == split]
            digest = hashlib.sha256()
            path = tmp / f"{split}.arrow"
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
                for start in range(0, len(rows), BATCH_ROWS):
                    batch = [_hf_row(e, media, digest) for e in rows[start:start + BATCH_ROWS]]
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                if not rows:
                    writer.write_table(schema.empty_table())
            table = MemoryMappedTable.from_file(str(path))
            info = datasets.DatasetInfo(features=features, description="emoalign matching set (EMID-Emotion-Matching recipe)")
            parts[split] = datasets.Dataset(table, info=info, split=datasets.NamedSplit(split), fingerprint=digest.hexdigest()[:16])
        was_enabled = datasets.is_progress_bar_enabled()
        if not progress:
            datasets.disable_progress_bars()
        try:
            datasets.DatasetDict(parts).save_to_disk(str(saved))
        finally:
            if was_enabled:
                datasets.enable_progress_bars()
        del parts, table
        if out_dir.exists():  # overwrite=True and a DatasetDict (checked above): swap, then drop the old one
            swap_folder(saved, out_dir, out_dir.parent / f".{out_dir.name}.{run}.old")
        else:
            os.replace(saved, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(saved, ignore_errors=True)
    return out_dir


def _hf_row(e: Example, media: PreparedMedia, digest) -> dict:
    audio_rel, image_rel = media.audio[e.music_id], media.images[e.image_id]
    audio = (media.root / audio_rel).read_bytes()
    image = (media.root / image_rel).read_bytes()
    for part in (e.id, e.music_id, e.image_id, str(e.same), e.emotion, e.question, e.answer):
        digest.update(part.encode("utf-8") + b"\0")
    digest.update(hashlib.sha256(audio).digest() + hashlib.sha256(image).digest())
    return {
        "audio": {"path": Path(audio_rel).name, "array": _wav_samples(audio), "sampling_rate": SAMPLING_RATE},
        "sampling_rate": SAMPLING_RATE,
        "image": {"bytes": image, "path": Path(image_rel).name},
        "same": e.same,
        "emotion": e.emotion,
        "question": e.question,
        "answer": e.answer,
    }


def _wav_samples(wav: bytes):
    """The prepared 16-bit WAV as float32 samples (exact: every int16 / 32768 is a float32)."""
    import soundfile as sf

    y, _ = sf.read(io.BytesIO(wav), dtype="float32", always_2d=False)
    return y


# ---------------------------------------------------------------------------------------------
# Chat-format JSONL (Qwen2.5-Omni style)
# ---------------------------------------------------------------------------------------------
def chat_line(e: Example, audio_path: str, image_path: str, system: str | None = None) -> dict:
    """One example as a conversation: user (audio, image, question) → assistant (answer)."""
    messages = []
    if system:
        messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
    messages.append({"role": "user", "content": [
        {"type": "audio", "audio": audio_path},
        {"type": "image", "image": image_path},
        {"type": "text", "text": e.question},
    ]})
    messages.append({"role": "assistant", "content": [{"type": "text", "text": e.answer}]})
    return {
        "id": e.id, "music_id": e.music_id, "image_id": e.image_id, "same": e.same,
        "emotion": e.emotion, "messages": messages,
    }


def write_jsonl(
    examples: Sequence[Example], media: PreparedMedia, out_dir: str | Path, *, splits: Sequence[str] = ("train", "test"),
    system: str | None = None,
) -> dict[str, Path]:
    """``{split}.jsonl`` in ``out_dir``, media paths relative to it (the media root must be inside it)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = Path(media.root.resolve()).relative_to(out_dir.resolve())
    paths = {}
    for split in splits:
        path = out_dir / f"{split}.jsonl"
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            for e in examples:
                if e.split != split:
                    continue
                line = chat_line(e, (base / media.audio[e.music_id]).as_posix(), (base / media.images[e.image_id]).as_posix(), system)
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        paths[split] = path
    return paths


def tree_digest(root: str | Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (relative path → hex), to check determinism."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}
