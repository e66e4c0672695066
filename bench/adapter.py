"""Does emotion help music↔image retrieval? EMI-Adapter vs semantic-only vs the T-score ranking.

EMID itself is not available here, so two data sets whose construction we know are used:

1. ``synthetic`` — `emoalign.learn.adapter_synth`: 10,000 clips and 5,000 images in a 512-d joint
   space (20 hidden topics + noise), true valence–arousal per item, *noisy* affect estimates as the
   encoders would give, and ground-truth pairs (3 per clip, 30,000 in all) chosen from the hidden
   topic similarity + w_emotion × true emotional closeness + judge noise. Three worlds:
   w_emotion = 0 (emotion irrelevant: nothing should gain from it), 0.5 and 1.0.
2. ``fixture`` — EMID-layout collections written by `emoalign.data.fixtures.emid` (real MP3/JPEG
   files whose sound and colours follow each item's V–A), 20 clips per EMID category, 25 images per
   Mikels tag; pairs = the EMID generator's rule (each clip gets images of its 3 nearest Mikels tags in
   V–A); run end to end through the CLI (`adapter train`, `adapter evaluate`) with the offline
   ``xmodal`` space for semantics and music-acoustic / image-scene for affect. Split clip by clip
   (``--split-by clip``): the generator gives every EMID category a single source recording, so a
   split by recording would put one category per split.

Protocol: split by music clip (80/10/10; by recording for EMID-style ids); everything tuned on
the validation clips only — the T-score's α (grid 0…1), the adapter's variant (bmf, svdpp, ncf)
and learning rate (2e-3, 1e-2), the epoch (early stopping) — then the test split is scored once.
Also reported, as ablations of the chosen setting (not selected on anything): the adapter
retrained with its affect input zeroed (the "no affect" control: does emotion, rather than
training on the pairs, make the difference?) and with its semantic part frozen (`freeze_semantic`:
only the affect terms learn; does the d×d residual earn its weights?).

Run: ``python bench/adapter.py [--part synthetic fixture]`` → bench/results/adapter.md,
adapter.json, adapter_curves.png.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
#: the CLI installed next to this interpreter (a venv's bin/ is not always on PATH)
EMOALIGN = shutil.which("emoalign", path=str(Path(sys.executable).parent)) or "emoalign"
RESULTS = HERE / "results"
VARIANTS = ("bmf", "svdpp", "ncf")
LRS = (2e-3, 1e-2)
EPOCHS = 20
PATIENCE = 5
#: --quick (a smoke run of the script itself, not for reporting)
QUICK = {"n_music": 1000, "n_images": 500, "dim": 64, "epochs": 2, "clips_per_letter": 3, "images_per_tag": 4}
SCALE = {"n_music": 10_000, "n_images": 5_000, "dim": 512, "epochs": EPOCHS, "clips_per_letter": 20, "images_per_tag": 25}


def val_key(ad) -> float:
    h = ad.history_[ad.config.best_epoch]
    return float(np.mean([h["val_r10_m2i"], h["val_r10_i2m"]]))


def val_rank_key(ad) -> tuple[float, float]:
    """Model selection on validation: Recall@10, then lower validation loss (as the epoch choice)."""
    return (val_key(ad), -float(ad.history_[ad.config.best_epoch].get("val_loss", 0.0)))


def synthetic_world(w_emotion: float, seed: int = 0) -> dict:
    from emoalign.learn.adapter import EMIAdapter
    from emoalign.learn.adapter_data import split_by_music, split_index
    from emoalign.learn.adapter_eval import evaluate_split, tune_alpha
    from emoalign.learn.adapter_synth import SynthConfig, make_pair_data

    cfg = SynthConfig(n_music=SCALE["n_music"], n_images=SCALE["n_images"], dim=SCALE["dim"], topics=20, w_emotion=w_emotion, seed=seed)
    data = make_pair_data(cfg)
    splits = split_by_music(len(data.music), seed=seed)
    tr, va, te = (split_index(splits, s) for s in ("train", "val", "test"))
    alpha, grid = tune_alpha(data, va)
    runs = {}
    for variant in VARIANTS:
        for lr in LRS:
            t = time.perf_counter()
            ad = EMIAdapter(variant=variant, lr=lr, epochs=SCALE["epochs"], patience=PATIENCE, seed=seed).fit(
                data.music, data.images, data.pairs_of(tr), val_pairs=data.pairs_of(va))
            runs[(variant, lr)] = (ad, time.perf_counter() - t)
            print(f"  w_e={w_emotion} {variant} lr={lr}: val R@10 {val_key(ad):.3f} (epoch {ad.config.best_epoch}, "
                  f"{time.perf_counter() - t:.0f} s)", flush=True)
    best = max(runs, key=lambda k: val_rank_key(runs[k][0]))
    ad, secs = runs[best]
    t = time.perf_counter()
    control = EMIAdapter(variant=best[0], lr=best[1], epochs=SCALE["epochs"], patience=PATIENCE, seed=seed, use_affect=False).fit(
        data.music, data.images, data.pairs_of(tr), val_pairs=data.pairs_of(va))
    control_s = time.perf_counter() - t
    frozen = EMIAdapter(variant=best[0], lr=best[1], epochs=SCALE["epochs"], patience=PATIENCE, seed=seed, freeze_semantic=True).fit(
        data.music, data.images, data.pairs_of(tr), val_pairs=data.pairs_of(va))
    res = evaluate_split(data, te, adapters={"adapter": ad, "adapter, no affect": control, "adapter, frozen semantic": frozen}, alpha=alpha)
    return {
        "w_emotion": w_emotion, "config": cfg.__dict__, "pairs": int(len(data.pairs)),
        "split_pairs": {s: int(len(data.pairs_of(split_index(splits, s)))) for s in ("train", "val", "test")},
        "alpha": alpha, "alpha_grid": grid, "chosen": {"variant": best[0], "lr": best[1], "best_epoch": ad.config.best_epoch},
        "val_r10": {f"{v} lr={lr}": val_key(a) for (v, lr), (a, _) in runs.items()},
        "fit_seconds": secs, "fit_epochs": len(ad.history_) - 1, "control_seconds": control_s,
        "parameters": ad.n_parameters(), "results": res,
        "frozen_val_r10": val_key(frozen), "frozen_best_epoch": frozen.config.best_epoch,
        "histories": {f"{v} lr={lr}": a.history_ for (v, lr), (a, _) in runs.items()},
    }


def fixture_run(work: Path) -> dict:
    from emoalign.data.fixtures.emid import make

    t = time.perf_counter()
    emid = make(work / "fx", seed=1, clips_per_letter=SCALE["clips_per_letter"], images_per_tag=SCALE["images_per_tag"])["emid"]
    gen_s = time.perf_counter() - t
    feats = work / "features"
    env = {**os.environ}
    runs = {}
    for variant in VARIANTS:
        for lr in LRS:
            out = work / f"adapter-{variant}-{lr}"
            t = time.perf_counter()
            r = subprocess.run([EMOALIGN, "adapter", "train", "--pairs", f"emid:{emid}", "--out", str(out), "--overwrite", "--backend", "xmodal",
                                "--features", str(feats), "--variant", variant, "--lr", str(lr), "--epochs", str(SCALE["epochs"]),
                                "--patience", str(PATIENCE), "--batch-size", "64", "--split-by", "clip", "--json"],
                               capture_output=True, text=True, env=env)
            if r.returncode != 0:
                raise SystemExit(r.stderr[-3000:])
            s = json.loads(r.stdout)
            best = s["history"][s["best_epoch"]]
            runs[(variant, lr)] = {"out": str(out), "val": float(np.mean([best["val_r10_m2i"], best["val_r10_i2m"]])),
                                   "val_loss": float(best.get("val_loss", 0.0)),
                                   "seconds": time.perf_counter() - t, "summary": s}
            print(f"  fixture {variant} lr={lr}: val R@10 {runs[(variant, lr)]['val']:.3f}", flush=True)
    best = max(runs, key=lambda k: (runs[k]["val"], -runs[k]["val_loss"]))
    r = subprocess.run([EMOALIGN, "adapter", "evaluate", "--model", runs[best]["out"], "--out", str(work / "eval"), "--json"],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(r.stderr[-3000:])
    res = json.loads(r.stdout)
    control_out = work / "adapter-control"
    r = subprocess.run([EMOALIGN, "adapter", "train", "--pairs", f"emid:{emid}", "--out", str(control_out), "--overwrite", "--backend", "xmodal",
                        "--features", str(feats), "--variant", best[0], "--lr", str(best[1]), "--epochs", str(SCALE["epochs"]),
                        "--patience", str(PATIENCE), "--batch-size", "64", "--split-by", "clip", "--no-affect", "--json"],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(r.stderr[-3000:])
    rc = subprocess.run([EMOALIGN, "adapter", "evaluate", "--model", str(control_out), "--json"], capture_output=True, text=True, env=env)
    control = json.loads(rc.stdout)
    key = [k for k in control if k.startswith("adapter")][0]
    res["adapter, no affect"] = control[key]
    frozen_out = work / "adapter-frozen"
    r = subprocess.run([EMOALIGN, "adapter", "train", "--pairs", f"emid:{emid}", "--out", str(frozen_out), "--overwrite", "--backend", "xmodal",
                        "--features", str(feats), "--variant", best[0], "--lr", str(best[1]), "--epochs", str(SCALE["epochs"]),
                        "--patience", str(PATIENCE), "--batch-size", "64", "--split-by", "clip", "--freeze-semantic", "--json"],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(r.stderr[-3000:])
    fs = json.loads(r.stdout)
    frozen_val = float(np.mean([fs["history"][fs["best_epoch"]]["val_r10_m2i"], fs["history"][fs["best_epoch"]]["val_r10_i2m"]]))
    rf = subprocess.run([EMOALIGN, "adapter", "evaluate", "--model", str(frozen_out), "--json"], capture_output=True, text=True, env=env)
    frozen = json.loads(rf.stdout)
    res["adapter, frozen semantic"] = frozen[[k for k in frozen if k.startswith("adapter")][0]]
    return {"generate_s": gen_s, "chosen": {"variant": best[0], "lr": best[1]}, "val_r10": {f"{v} lr={lr}": x["val"] for (v, lr), x in runs.items()},
            "counts": runs[best]["summary"]["counts"], "featurizer": runs[best]["summary"]["featurizer"],
            "fit_seconds": runs[best]["summary"]["seconds"], "results": res, "frozen_val_r10": frozen_val}


def table(res: dict) -> list[str]:
    from emoalign.learn.adapter_eval import DIRECTIONS

    names = [k for k in res if not k.startswith("_")]
    lines = ["| method | m→i R@1 | m→i R@5 | m→i R@10 | m→i mean rank | m→i agree@10 | i→m R@1 | i→m R@5 | i→m R@10 | i→m mean rank | i→m agree@10 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for n in names:
        cells = []
        for d in DIRECTIONS:
            r = res[n][d]
            cells += [f"{r['R@1']:.3f}", f"{r['R@5']:.3f}", f"**{r['R@10']:.3f}**", f"{r['mean_rank']:.1f}", f"{r['agreement@10']:.3f}"]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return lines


def plot_curves(worlds: list[dict], out: Path) -> None:
    from emoalign.eval.plots import pyplot

    plt = pyplot()

    fig, axes = plt.subplots(2, len(worlds), figsize=(5 * len(worlds), 7), dpi=100, squeeze=False)
    for c, w in enumerate(worlds):
        for name, hist in w["histories"].items():
            ep = [h["epoch"] for h in hist]
            axes[0, c].plot(ep[1:], [h["train_loss"] for h in hist[1:]], label=name)
            axes[1, c].plot(ep, [np.mean([h["val_r10_m2i"], h["val_r10_i2m"]]) for h in hist], label=name)
        sem = w["results"]["semantic"]
        axes[1, c].axhline(np.mean([sem["music_to_image"]["R@10"], sem["image_to_music"]["R@10"]]), color="k", ls="--", lw=1,
                           label="semantic-only (test)")
        axes[0, c].set_title(f"w_emotion = {w['w_emotion']}: training loss")
        axes[1, c].set_title("validation Recall@10 (mean of both directions)")
        axes[1, c].set_xlabel("epoch (0 = untrained = semantic-only)")
        for ax in axes[:, c]:
            ax.grid(alpha=0.3)
        axes[1, c].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def write_markdown(all_res: dict) -> None:
    m = {"cpus": os.cpu_count(), "loadavg": os.getloadavg()}
    lines = ["# EMI-Adapter: does emotion help retrieval? (`bench/adapter.py`)", "",
             f"Command: `python bench/adapter.py` (each part can be re-run alone: `--part synthetic`, `--part fixture`; "
             f"`--report-only` rewrites this file from adapter.json). Machine: {m['cpus']}-core CPU "
             f"(load average at the end {tuple(round(x, 1) for x in m['loadavg'])}"
             + ("; shared with other jobs, so times are upper bounds)." if m["loadavg"][0] > 1.5 else ")."), "",
             "EMID is not available here; see the module docstring of `bench/adapter.py` for both data sets. "
             "Everything (T-score α, adapter variant and learning rate, epoch) is chosen on validation clips; the test clips are "
             "scored once. R@K: share of queries whose first true partner is in the top K of the split's gallery; "
             "agree@10: share of the top 10 whose emotion category is one of the true partners' categories.", ""]
    if "synthetic" in all_res:
        worlds = all_res["synthetic"]
        w0 = worlds[0]
        lines += ["## 1. Synthetic benchmark with controlled ground truth", "",
                  f"{w0['config']['n_music']:,} clips, {w0['config']['n_images']:,} images, {w0['pairs']:,} pairs "
                  f"(train/val/test {w0['split_pairs']['train']:,}/{w0['split_pairs']['val']:,}/{w0['split_pairs']['test']:,}); "
                  f"{w0['config']['dim']}-d joint space, {w0['config']['topics']} topics, semantic noise {w0['config']['semantic_noise']}, "
                  f"affect noise σ = {w0['config']['affect_noise']} in V–A. Pairs: top {w0['config']['keep']} images per clip by "
                  "cos(topics) + w_emotion × E_true + N(0, 0.1).", ""]
        for w in worlds:
            d = w["results"]["_data"]
            lines += [f"### w_emotion = {w['w_emotion']}", "",
                      f"Test split: {d['clips']:,} clips, {d['images']:,} images in the gallery. T-score α = {w['alpha']:g} (chosen on validation). "
                      f"Adapter chosen on validation: {w['chosen']['variant']}, lr {w['chosen']['lr']:g}, epoch {w['chosen']['best_epoch']}; "
                      f"{w['parameters']:,} parameters; fit {w['fit_seconds']:.0f} s for {w['fit_epochs']} epochs on {w['split_pairs']['train']:,} pairs.", ""]
            lines += table(w["results"])
            lines += ["", "Validation R@10 of each adapter setting: " + ", ".join(f"{k} {v:.3f}" for k, v in w["val_r10"].items())
                      + (f"; the chosen setting with frozen semantics (ablation) {w['frozen_val_r10']:.3f}" if "frozen_val_r10" in w else ""), ""]
        lines += ["![curves](adapter_curves.png)", "",
                  "Training loss and validation Recall@10 per epoch for every setting (EMID's Figure 4 analogue); the dashed line is "
                  "semantic-only on the test split.", ""]
    if "fixture" in all_res:
        f = all_res["fixture"]
        d = f["results"]["_data"]
        lines += ["## 2. EMID-layout generated collection, end to end through the CLI", "",
                  f"`emoalign.data.fixtures.emid.make(root, seed=1, clips_per_letter=20, images_per_tag=25)`: real MP3/JPEG files; split clip by clip "
                  f"(the generator uses one source recording per category, so a split by recording would hold one category); "
                  f"split clips/pairs: {json.dumps(f['counts'])}. Semantics: {f['featurizer']['backend']} "
                  f"({f['featurizer']['music_encoder']} / {f['featurizer']['image_encoder']}); affect: "
                  f"{f['featurizer']['music_affect_encoder']} / {f['featurizer']['image_affect_encoder']}. "
                  f"T-score α = {d['alpha']:g} ({d['alpha_chosen_on']}); adapter {f['chosen']['variant']} lr {f['chosen']['lr']:g} (validation). "
                  f"Test split: {d['clips']} clips, {d['images']} images.", ""]
        lines += table(f["results"])
        lines += ["", "Validation R@10 of each adapter setting: " + ", ".join(f"{k} {v:.3f}" for k, v in f["val_r10"].items())
                  + (f"; the chosen setting with frozen semantics (ablation) {f['frozen_val_r10']:.3f}" if "frozen_val_r10" in f else ""), "",
                  "Caveat: the generator pairs each clip with images of its three nearest Mikels tags in V–A — the pairs are defined "
                  "by emotion alone, and the media's sound and colours follow V–A too, so this set measures whether the pipeline "
                  "recovers an emotional rule from real files, not whether emotion helps over real semantics.", ""]
    (RESULTS / "adapter.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", nargs="+", default=["synthetic", "fixture"], choices=["synthetic", "fixture"])
    ap.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.5, 1.0], help="w_emotion of the synthetic worlds.")
    ap.add_argument("--quick", action="store_true", help="Tiny sizes, results under /tmp (checks the script runs).")
    ap.add_argument("--report-only", action="store_true", help="Rewrite adapter.md from adapter.json.")
    args = ap.parse_args()
    global RESULTS
    if args.quick:
        SCALE.update(QUICK)
        RESULTS = Path(tempfile.mkdtemp(prefix="adapter-bench-quick-"))
        print("quick run →", RESULTS)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "adapter.json"
    all_res = json.loads(path.read_text()) if path.exists() else {}
    if args.report_only:
        write_markdown(all_res)
        return
    if "synthetic" in args.part:
        worlds = []
        for w in args.weights:
            print(f"== synthetic, w_emotion = {w}", flush=True)
            worlds.append(synthetic_world(w))
        all_res["synthetic"] = worlds
        path.write_text(json.dumps(all_res, default=float, indent=1))
        plot_curves(worlds, RESULTS / "adapter_curves.png")
    if "fixture" in args.part:
        print("== fixture", flush=True)
        with tempfile.TemporaryDirectory(prefix="emoalign-adapter-bench-") as tmp:
            all_res["fixture"] = fixture_run(Path(tmp))
        path.write_text(json.dumps(all_res, default=float, indent=1))
    write_markdown(all_res)


if __name__ == "__main__":
    main()
