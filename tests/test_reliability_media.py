"""A corpus of bad media, generated here, per modality: each is refused with a message naming the
file and the problem, cheaply (bombs are refused from the header, in a child process whose peak
memory is measured), or — when it is merely large — decoded into a bounded working size.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from emoalign.errors import DecodeError
from emoalign.media.decode import MAX_IMAGE_SIDE, audio_info, image_info, load_audio, load_image
from emoalign.media.synth import clip_bytes, image_bytes, synth_clip, synth_image


def flac_bomb(path: Path, seconds: int = 3600, rate: int = 48000) -> Path:
    """An hour of silent 48 kHz stereo FLAC, written 10 s at a time (~0.7 MB on disk, 1.4 GB decoded)."""
    import soundfile as sf

    with sf.SoundFile(path, "w", rate, 2, format="FLAC", subtype="PCM_16") as fh:
        block = np.zeros((rate * 10, 2), np.int16)
        for _ in range(seconds // 10):
            fh.write(block)
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def lying_png(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` × ``height`` RGB pixels, with one tiny data chunk."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b"")


def peak_mb_of(code: str) -> tuple[float, str]:
    """Run ``code`` in a fresh interpreter; (its peak RSS in MB, its stdout)."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read()
    assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read()
    return usage.ru_maxrss / 1024, out


# -- audio -----------------------------------------------------------------------------------------
def test_audio_bomb_is_refused_from_the_header_in_little_memory(tmp_path):
    bomb = flac_bomb(tmp_path / "hour.flac")
    assert bomb.stat().st_size < 2_000_000
    info = audio_info(bomb)
    assert (info.rate, info.channels, round(info.seconds)) == (48000, 2, 3600)
    code = f"""
from emoalign.media.decode import load_audio
from emoalign.errors import DecodeError
import numpy, soundfile, scipy.signal  # the same imports as the reference run below
try:
    load_audio({str(bomb)!r})
except DecodeError as exc:
    print(exc)
"""
    peak, out = peak_mb_of(code)
    assert "hour.flac: 3600 s of audio is longer than the 600 s limit" in out
    base, _ = peak_mb_of("from emoalign.media.decode import load_audio\nimport numpy, soundfile, scipy.signal")
    # Decoding it whole took 2 GB before; the header is enough to refuse it.
    assert peak - base < 100, f"refusing the bomb cost {peak - base:.0f} MB"


def test_keep_seconds_decodes_only_the_start(tmp_path):
    import soundfile as sf

    y = synth_clip(0.2, 0.4, seconds=12.0, sr=22050)
    sf.write(tmp_path / "long.wav", y, 22050)
    full = load_audio(tmp_path / "long.wav", 16000)
    start = load_audio(tmp_path / "long.wav", 16000, keep_seconds=4.0 + 1.0)[: 4 * 16000]
    np.testing.assert_allclose(start, full[: 4 * 16000], atol=1e-5)


def test_stereo_48k_is_downmixed_and_resampled_like_before(tmp_path):
    import soundfile as sf
    from scipy.signal import resample_poly

    rng = np.random.default_rng(0)
    stereo = (0.2 * rng.standard_normal((48000 * 3, 2))).astype(np.float32)
    sf.write(tmp_path / "s.flac", stereo, 48000, subtype="PCM_24")
    got = load_audio(tmp_path / "s.flac", 16000)
    want = resample_poly(sf.read(tmp_path / "s.flac", dtype="float32")[0].mean(axis=1), 1, 3)
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("case, make, message", [
    ("empty", lambda d: (d / "empty.wav").write_bytes(b"") and None, "empty.wav: empty file"),
    ("folder", lambda d: (d / "clips.wav").mkdir(), "clips.wav: is a folder, not a file"),
    ("missing", lambda d: None, "missing.wav: no such file"),
    ("random", lambda d: (d / "random.wav").write_bytes(np.random.default_rng(1).bytes(4096)), "random.wav: cannot decode audio"),
    ("truncated", lambda d: (d / "cut.wav").write_bytes(clip_bytes(synth_clip(0.1, 0.1, seconds=5.0))[: 44 + 8000]),
     "cut.wav: truncated WAV: the header declares 5.00 s but the file holds 0.25 s"),
    ("zero rate", lambda d: (d / "zero.wav").write_bytes(
        b"RIFF" + struct.pack("<I", 36 + 8) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 0, 0, 2, 16) + b"data"
        + struct.pack("<I", 8) + bytes(8)), "zero.wav: "),
])
def test_bad_audio_is_named_and_explained(tmp_path, case, make, message):
    make(tmp_path)
    name = message.split(":")[0]
    with pytest.raises(DecodeError) as info:
        load_audio(tmp_path / name)
    assert str(info.value).startswith(str(tmp_path / message.split(":")[0]))
    assert message.split(": ", 1)[1] in str(info.value)
    assert "<_io." not in str(info.value) and "object at 0x" not in str(info.value)


def test_bad_audio_bytes_name_the_byte_count():
    with pytest.raises(DecodeError, match="empty file"):
        load_audio(b"")
    with pytest.raises(DecodeError, match=r"^<4096 bytes>: cannot decode audio"):
        load_audio(np.random.default_rng(2).bytes(4096))


# -- images ----------------------------------------------------------------------------------------
def test_pixel_bomb_header_is_refused_without_decoding(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(lying_png(100_000, 100_000))
    assert path.stat().st_size < 200
    for fn in (image_info, load_image):
        with pytest.raises(DecodeError, match=r"huge.png: .*decompression bomb"):
            fn(path)
    path.write_bytes(lying_png(9000, 9000))  # over our limit, under Pillow's own
    with pytest.raises(DecodeError, match=r"huge.png: 9000×9000 image exceeds the 64,000,000-pixel limit"):
        load_image(path)


def test_large_image_is_decoded_into_a_bounded_working_size(tmp_path):
    from PIL import Image

    Image.new("RGB", (6000, 4000), (200, 30, 30)).save(tmp_path / "wide.png")
    Image.new("RGB", (6000, 4000), (30, 200, 30)).save(tmp_path / "wide.jpg", quality=90)
    for name in ("wide.png", "wide.jpg"):
        img = load_image(tmp_path / name)
        assert max(img.shape[:2]) <= MAX_IMAGE_SIDE and img.shape[2] == 3
        assert abs(img.shape[1] / img.shape[0] - 1.5) < 0.01  # aspect kept
    assert load_image(tmp_path / "wide.png")[10, 10].tolist() == [200, 30, 30]
    small = synth_image(0.3, 0.3, size=96)
    np.testing.assert_array_equal(load_image(image_bytes(small)), small)  # small images untouched


@pytest.mark.parametrize("case", ["truncated png", "truncated jpeg", "empty", "text named .jpg"])
def test_bad_images_are_named_and_explained(tmp_path, case):
    good_png = image_bytes(synth_image(0.1, 0.1, size=64))
    buf = io.BytesIO()
    from PIL import Image

    Image.fromarray(synth_image(0.1, 0.1, size=64)).save(buf, format="JPEG")
    data, name, words = {
        "truncated png": (good_png[: len(good_png) // 2], "cut.png", "cannot decode image"),
        "truncated jpeg": (buf.getvalue()[:200], "cut.jpg", "cannot decode image"),
        "empty": (b"", "empty.png", "empty file"),
        "text named .jpg": (b"hello, this is text", "note.jpg", "cannot decode image"),
    }[case]
    (tmp_path / name).write_bytes(data)
    with pytest.raises(DecodeError) as info:
        load_image(tmp_path / name)
    assert str(info.value).startswith(str(tmp_path / name)) and words in str(info.value)
    assert "object at 0x" not in str(info.value)


# -- video -----------------------------------------------------------------------------------------
def test_bad_video_is_named_and_explained(tmp_path):
    pytest.importorskip("av")
    from emoalign.media.video import decode_video

    (tmp_path / "cut.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    (tmp_path / "empty.mp4").write_bytes(b"")
    for name in ("cut.mp4", "empty.mp4"):
        with pytest.raises(DecodeError) as info:
            decode_video(tmp_path / name)
        assert name in str(info.value)


def test_one_audio_length_limit_for_analysis_and_matching(tmp_path):
    """`analyze` (music-acoustic) and `match` (music-xmodal) refuse the same 11-minute clip."""
    import soundfile as sf

    from emoalign.encode.registry import get_encoder

    path = tmp_path / "eleven_minutes.wav"
    with sf.SoundFile(path, "w", 8000, 1, subtype="PCM_16") as fh:
        for _ in range(66):
            fh.write(np.full(80000, 1000, np.int16))
    for name in ("music-acoustic", "music-xmodal"):
        (res,) = get_encoder(name).encode([str(path)])
        assert res.error and "660 s of audio is longer than the 600 s limit" in res.error, (name, res.error)
