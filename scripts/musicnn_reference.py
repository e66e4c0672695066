"""Reference outputs of the ORIGINAL musicnn (TensorFlow) for tests/test_encode_music_musicnn.py.

Runs musicnn 0.1.0's own code — ``musicnn.extractor.batch_data`` (librosa log-mel, float16
storage) and ``musicnn.models.define_model`` restored from the package's ``MSD_musicnn``
checkpoint, in TF1 graph mode via ``tf.compat.v1`` — on one generated clip (the project's synth
generator, fixed seed), and saves what the port must reproduce to ``tests/data/musicnn_reference.npz``:
the clip's parameters and a checksum of its samples, librosa's mel filters, the batched input
spectrogram, and per patch the 50 tag probabilities, the 200-d penultimate layer and the 753-d
mean/max pools.

TensorFlow is never a dependency of emoalign: the script builds a throwaway virtual environment
OUTSIDE the repository (default /work/cache/music/tfenv; ``--env``) with
tensorflow-cpu 2.15 (the last release whose ``tf.compat.v1.layers`` still work, before Keras 3),
librosa 0.10 and numpy < 2 (musicnn's ``10000 * float16_array`` then computes in float32, as it
did when the model was released), and runs its TF part there.

    python scripts/musicnn_reference.py                 # from the repo root, with emoalign's venv
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "data" / "musicnn_reference.npz"
ENV = Path(os.environ.get("MUSICNN_TF_ENV", "/work/cache/music/tfenv"))
PINS = ["tensorflow-cpu==2.15.1", "librosa==0.10.2.post1", "numpy<2"]
#: The generated clip: synth_clip(valence, arousal, seconds, seed) → 16-bit WAV; 6.5 s = 2 patches.
CLIP = {"valence": 0.6, "arousal": 0.5, "seconds": 6.5, "seed": 7}

INNER = r'''
import json, sys
import numpy as np
import librosa
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
import musicnn, os
from musicnn import models
from musicnn.extractor import batch_data
wav, out = sys.argv[1], sys.argv[2]
batch, spec = batch_data(wav, 187, 187)
tf.compat.v1.reset_default_graph()
with tf.name_scope("model"):
    x = tf.compat.v1.placeholder(tf.float32, [None, 187, 96])
    is_training = tf.compat.v1.placeholder(tf.bool)
    y, timbral, temporal, cnn1, cnn2, cnn3, mean_pool, max_pool, pen = models.define_model(x, is_training, "MSD_musicnn", 50)
    tags = tf.nn.sigmoid(y)
sess = tf.compat.v1.Session()
sess.run(tf.compat.v1.global_variables_initializer())
tf.compat.v1.train.Saver().restore(sess, os.path.dirname(musicnn.__file__) + "/MSD_musicnn/")
t, p, mp, xp = sess.run([tags, pen, mean_pool, max_pool], feed_dict={x: batch, is_training: False})
np.savez(out, batch=batch.astype(np.float32), tags=t, penultimate=p, mean_pool=mp, max_pool=xp,
         mel_filters=librosa.filters.mel(sr=16000, n_fft=512, n_mels=96),
         versions=np.array(json.dumps({"tensorflow": tf.__version__, "librosa": librosa.__version__, "numpy": np.__version__})))
'''


def ensure_env(env: Path) -> Path:
    python = env / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "musicnn==0.1.0"], check=True)
    return python


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", type=Path, default=ENV)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from emoalign.media.synth import clip_bytes, synth_clip

    python = ensure_env(args.env)
    wav_bytes = clip_bytes(synth_clip(CLIP["valence"], CLIP["arousal"], seconds=CLIP["seconds"], seed=CLIP["seed"]))
    with tempfile.TemporaryDirectory() as tmp:
        wav, raw = Path(tmp) / "clip.wav", Path(tmp) / "ref.npz"
        wav.write_bytes(wav_bytes)
        subprocess.run([str(python), "-c", INNER, str(wav), str(raw)], check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        with np.load(raw) as z:
            ref = {k: z[k] for k in z.files}
    ref["clip"] = np.array(json.dumps(CLIP))
    ref["wav_sha256"] = np.array(hashlib.sha256(wav_bytes).hexdigest())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **ref)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB): {ref['batch'].shape[0]} patches; {ref['versions']}")


if __name__ == "__main__":
    main()
