"""Image affect on OASIS: theme-grouped CV of each path, the text→affect checks, the shipped head, speed.

    python bench/image_oasis.py [--write-model] [--speed 64] [--out bench/results/image_oasis.md]

Data: ../shared/data/oasis (900 pictures, valence/arousal rescaled to −1..1; Kurdi, Lozano &
Banaji 2017). Every figure is Pearson r between out-of-fold predictions and the ratings:

- theme-grouped 5-fold CV (pictures of one theme, e.g. "Dog", never straddle train and test);
- leave-one-category-out (train on three of Animal/Object/Person/Scenery, test on the fourth;
  mean of the within-category r): a harsher check of transfer to content the head never saw.

Rows: colour only (Valdez & Mehrabian 1994, zero-shot, as `image-scene` without a face; and a
ridge on the colour statistics), the EfficientNet-Lite0 embedding ridge, the language path
(ImageNet class table, zero-shot), the semantic-vector ridge, and the stacked `ImageAffectHead`
(the shipped model; its alpha is chosen here by theme-grouped CV). Text→affect checks: the EmoBank
head on the EmoBank dev part (never used to fit it) and on the shipped Warriner words.
``--write-model`` fits the head on all 900 pictures and writes encode/models/image_affect.npz.
Speed: image-affect vs image-scene end to end on the same OASIS files, same process.

Features are cached under $EMOALIGN_BENCH_CACHE (default /work/cache/image, else .emoalign-cache/image).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

ALPHAS = (1000.0, 3000.0, 10000.0)


def cache_dir() -> Path:
    if os.environ.get("EMOALIGN_BENCH_CACHE"):
        return Path(os.environ["EMOALIGN_BENCH_CACHE"])
    return Path("/work/cache/image") if Path("/work/cache").is_dir() else REPO / ".emoalign-cache" / "image"


def oasis_root() -> Path:
    base = Path(os.environ.get("EMOALIGN_SHARED_DATA", REPO.parent.parent / "shared" / "data"))
    for root in (base / "oasis", Path("/work/shared/data/oasis")):
        if (root / "ratings.csv").is_file():
            return root
    raise SystemExit("OASIS not found: set EMOALIGN_SHARED_DATA to the folder holding oasis/")


def oasis_features(root: Path) -> tuple:
    """(ratings DataFrame, features dict) — features computed once and cached."""
    import pandas as pd

    from emoalign.encode.image_features import PictureFeatures
    from emoalign.media.decode import load_image

    df = pd.read_csv(root / "ratings.csv")
    path = cache_dir() / "oasis_features.npz"
    if path.is_file():
        with np.load(path, allow_pickle=True) as z:
            if list(z["files"]) == df["file"].tolist():
                return df, {k: z[k] for k in ("embedding", "logits", "colour", "face")}
    extractor = PictureFeatures()
    parts: dict[str, list] = {k: [] for k in ("embedding", "logits", "colour", "face")}
    for start in range(0, len(df), 32):
        feats = extractor([load_image(root / "images" / f) for f in df["file"][start : start + 32]])
        for k in parts:
            parts[k].append(feats[k])
    feats = {k: np.concatenate(v) for k, v in parts.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, files=df["file"].to_numpy(), **feats)
    return df, feats


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


class Splits:
    def __init__(self, df):
        from sklearn.model_selection import GroupKFold

        self.themes = df["theme"].to_numpy()
        self.cats = df["category"].to_numpy()
        self.theme = list(GroupKFold(5).split(np.zeros(len(df)), groups=self.themes))
        self.category = [(np.flatnonzero(self.cats != c), np.flatnonzero(self.cats == c)) for c in np.unique(self.cats)]

    def scores(self, pred: np.ndarray, Y: np.ndarray) -> dict:
        return {"V": pearson(pred[:, 0], Y[:, 0]), "A": pearson(pred[:, 1], Y[:, 1])}

    def within_category(self, pred: np.ndarray, Y: np.ndarray) -> dict:
        cats = np.unique(self.cats)
        return {d: float(np.mean([pearson(pred[self.cats == c, k], Y[self.cats == c, k]) for c in cats]))
                for k, d in enumerate(("V", "A"))}


def ridge_oof(X, Y, folds, alpha):
    from emoalign.encode.image_affect import _apply, _ridge

    out = np.zeros_like(Y)
    for tr, te in folds:
        out[te] = _apply(_ridge(X[tr], Y[tr], alpha), X[te])
    return out


def head_oof(emb, probs, Y, folds, groups, alpha):
    from emoalign.encode.image_affect import ImageAffectHead

    out, raw = np.zeros_like(Y), np.zeros_like(Y)
    for tr, te in folds:
        head = ImageAffectHead(alpha=alpha).fit(emb[tr], probs[tr], Y[tr], groups=groups[tr])
        out[te] = head.predict(emb[te], probs[te])
        raw[te] = head.predict_uncalibrated(emb[te], probs[te])
    return out, raw


def text_checks() -> dict:
    """EmoBank head on the EmoBank dev part and on the shipped Warriner words (Pearson r)."""
    import text_data

    from emoalign.encode.heads import LinearRegressorHead
    from emoalign.encode.imagenet_affect import warriner_words
    from emoalign.encode.text import load_use, models_dir

    head = LinearRegressorHead.load(models_dir() / "text_use_va.npz")
    out = {}
    try:
        eb = text_data.emobank()
        dev = eb[eb["split"] != "train"]
        pred = head.predict(text_data.use_embeddings(dev["text"].tolist(), "emobank_dev"))
        out["emobank_dev"] = {"n": len(dev), "V": pearson(pred[:, 0], dev["v"].to_numpy()), "A": pearson(pred[:, 1], dev["a"].to_numpy())}
    except SystemExit as exc:  # EmoBank absent
        out["emobank_dev"] = {"skipped": str(exc)}
    words, rated = warriner_words()
    pred = head.predict(load_use().encode(words))
    out["warriner_subset"] = {"n": len(words), "V": pearson(pred[:, 0], rated[:, 0]), "A": pearson(pred[:, 1], rated[:, 1])}
    return out


def speed(root: Path, files: list[str], n: int) -> dict:
    from emoalign.encode.image import SceneImageEncoder
    from emoalign.encode.image_affect import AffectImageEncoder

    paths = [root / "images" / f for f in files[:n]]
    out = {}
    for name, enc in (("image-scene", SceneImageEncoder()), ("image-affect", AffectImageEncoder())):
        enc.encode(paths[:4])  # warm-up
        t = time.perf_counter()
        res = enc.encode(paths)
        dt = time.perf_counter() - t
        out[name] = {"images": len(paths), "seconds": dt, "images_per_s": len(paths) / dt, "errors": sum(r.error is not None for r in res)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write-model", action="store_true", help="fit on all of OASIS and write encode/models/image_affect.npz")
    ap.add_argument("--fit-only", action="store_true", help="with --write-model: skip the comparisons, fit with --alpha")
    ap.add_argument("--alpha", type=float, default=3000.0, help="level-1 alpha for --fit-only")
    ap.add_argument("--speed", type=int, default=64, help="pictures for the throughput comparison (0: skip)")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "image_oasis.md"))
    args = ap.parse_args(argv)

    load = os.getloadavg()
    from emoalign.encode.image import colour_pad
    from emoalign.encode.image_affect import ImageAffectHead, load_class_text, models_dir, softmax
    from emoalign.encode.imagenet_affect import load_table

    root = oasis_root()
    df, F = oasis_features(root)
    Y = df[["valence", "arousal"]].to_numpy(float)
    probs = softmax(F["logits"])
    emb = F["embedding"].astype(np.float64)
    semantic = probs @ load_class_text()
    table = load_table()
    sp = Splits(df)
    if args.fit_only:
        head = ImageAffectHead(alpha=args.alpha).fit(emb, probs, Y, groups=sp.themes)
        head.meta.update({
            "trained_on": "OASIS, all 900 pictures (Kurdi, Lozano & Banaji 2017), valence/arousal (mean - 4) / 3",
            "theme_cv": dict(zip("VA", head.meta["oof_pearson"])),
            "theme_cv_is": "out-of-fold Pearson r of the stacked head, 5 folds grouped by OASIS theme"})
        path = head.save(models_dir() / "image_affect.npz")
        print(f"wrote {path} ({path.stat().st_size} bytes); theme-CV r {head.meta['theme_cv']}")
        return 0
    rows: list[tuple[str, np.ndarray, np.ndarray | None]] = []  # name, theme-CV preds, category-CV preds

    vm = np.array([[colour_pad(b, s)["pleasure"], colour_pad(b, s)["arousal"]] for b, s in F["colour"][:, :2]])
    rows.append(("colour, Valdez & Mehrabian (zero-shot; `image-scene` without a face)", vm, vm))
    cf = np.hstack([F["colour"], F["face"]])
    rows.append(("colour + face statistics, ridge (α=10)", ridge_oof(cf, Y, sp.theme, 10.0), ridge_oof(cf, Y, sp.category, 10.0)))
    rows.append(("embedding ridge (α=3000)", ridge_oof(emb, Y, sp.theme, 3000.0), ridge_oof(emb, Y, sp.category, 3000.0)))
    lang = table.picture_va(probs)
    rows.append(("language path: class table, zero-shot", lang, lang))
    rows.append(("semantic vector ridge (α=1000)", ridge_oof(semantic, Y, sp.theme, 1000.0), ridge_oof(semantic, Y, sp.category, 1000.0)))
    both = np.hstack([emb, semantic])
    rows.append(("embedding + semantic ridge (level 1, α=3000)", ridge_oof(both, Y, sp.theme, 3000.0), ridge_oof(both, Y, sp.category, 3000.0)))

    grid = {}
    for alpha in ALPHAS:
        pred, _ = head_oof(emb, probs, Y, sp.theme, sp.themes, alpha)
        grid[alpha] = sp.scores(pred, Y)
    best = max(ALPHAS, key=lambda a: grid[a]["V"] + grid[a]["A"])
    head_theme, head_raw = head_oof(emb, probs, Y, sp.theme, sp.themes, best)
    head_cat, _ = head_oof(emb, probs, Y, sp.category, sp.themes, best)
    rows.append((f"**stacked head, calibrated (shipped; α={best:g})**", head_theme, head_cat))

    results = {"rows": [], "alpha_grid": {str(a): s for a, s in grid.items()}, "alpha": best}
    for name, theme_pred, cat_pred in rows:
        results["rows"].append({"name": name, "theme": sp.scores(theme_pred, Y), "category": sp.within_category(cat_pred, Y)})
    spread = {"ratings_sd": Y.std(axis=0).tolist(), "uncalibrated_sd": head_raw.std(axis=0).tolist(), "calibrated_sd": head_theme.std(axis=0).tolist(),
              "valence_sign_agreement_uncalibrated": float(np.mean(np.sign(head_raw[:, 0]) == np.sign(Y[:, 0]))),
              "valence_sign_agreement_calibrated": float(np.mean(np.sign(head_theme[:, 0]) == np.sign(Y[:, 0])))}
    results["spread"] = spread
    results["text_checks"] = text_checks()

    if args.write_model:
        head = ImageAffectHead(alpha=best).fit(emb, probs, Y, groups=sp.themes)
        head.meta.update({
            "trained_on": "OASIS, all 900 pictures (Kurdi, Lozano & Banaji 2017), valence/arousal (mean - 4) / 3",
            "alpha_chosen_by": "theme-grouped 5-fold CV on OASIS", "theme_cv": sp.scores(head_theme, Y),
            "theme_cv_is": "out-of-fold Pearson r of the stacked head, 5 folds grouped by OASIS theme",
            "category_cv_within": sp.within_category(head_cat, Y),
        })
        path = head.save(models_dir() / "image_affect.npz")
        results["model"] = {"path": str(path.relative_to(REPO)), "bytes": path.stat().st_size, "oof_pearson": head.meta["oof_pearson"]}
    if args.speed:
        results["speed"] = speed(root, df["file"].tolist(), args.speed)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    lines = [
        "# Image affect on OASIS",
        "",
        f"`python bench/image_oasis.py{' --write-model' if args.write_model else ''} --speed {args.speed}` — "
        f"{platform.machine()}, {os.cpu_count()} cores, load average at start {load[0]:.2f} (shared machine).",
        "",
        "OASIS: 900 pictures, valence/arousal (mean − 4) / 3. Pearson r of out-of-fold predictions. "
        "*Theme CV*: 5 folds grouped by theme. *Category hold-out*: train on three of Animal/Object/Person/Scenery, "
        "predict the fourth; mean of the four within-category r (transfer to unseen content).",
        "",
        "| path | theme CV r V | theme CV r A | category hold-out r V | category hold-out r A |",
        "|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        lines.append(f"| {row['name']} | {row['theme']['V']:.3f} | {row['theme']['A']:.3f} | {row['category']['V']:.3f} | {row['category']['A']:.3f} |")
    grid_text = ", ".join(f"α={a}: {s['V']:.3f} / {s['A']:.3f}" for a, s in results["alpha_grid"].items())
    lines += ["", "Stacked head, alpha grid (theme CV r V / A): " + grid_text, ""]
    lines += [
        "Calibration (theme CV, out of fold): ratings sd V {:.3f} A {:.3f}; uncalibrated predictions sd {:.3f} / {:.3f}; "
        "calibrated {:.3f} / {:.3f}. Valence sign agreement with the ratings: {:.3f} uncalibrated, {:.3f} calibrated.".format(
            *spread["ratings_sd"], *spread["uncalibrated_sd"], *spread["calibrated_sd"],
            spread["valence_sign_agreement_uncalibrated"], spread["valence_sign_agreement_calibrated"]), ""]
    tc = results["text_checks"]
    lines += ["## Text → affect (the EmoBank head on USE, used for the class table)", ""]
    for key, label in (("emobank_dev", "EmoBank dev part (held out from the head)"), ("warriner_subset", "Warriner et al. 2013 words shipped in affect/data")):
        c = tc[key]
        lines.append(f"- {label}: " + (f"n = {c['n']}, r V {c['V']:.3f}, r A {c['A']:.3f}" if "n" in c else c["skipped"]))
    lines.append("")
    if "model" in results:
        m = results["model"]
        lines += [f"Shipped head: `{m['path']}` ({m['bytes'] / 1e6:.2f} MB), fitted on all 900 pictures.", ""]
    if "speed" in results:
        lines += ["## Speed (same process, same files, after a warm-up; faces on)", "", "| encoder | images | images/s |", "|---|---|---|"]
        for name, s in results["speed"].items():
            lines.append(f"| {name} | {s['images']} | {s['images_per_s']:.1f} |")
        lines.append("")
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
