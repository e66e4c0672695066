"""The EMI-Adapter: fuse each item's semantic embedding with its affect into one shared space.

EMID (Zou et al. 2023, arXiv 2308.07622) adds a light module on top of a joint music–image
embedding (ImageBind in the paper) that merges emotional features into the space, trained on
emotion-aligned pairs, and compares three variants named after recommender models (NCF, BMF,
SVD++). The paper's exact layers are not published in what we could read, so this module
implements the idea with explicit, documented choices:

Shape (every variant)
---------------------
Two towers, one per modality. A tower takes an item's unit-length semantic vector ``x`` and its
affect ``a = [p, v, a]`` (probabilities over the item's taxonomy, then valence and arousal) and
returns a unit vector ``û`` in the shared space plus a scalar bias ``b``. A music clip and an
image score ``s = û_m·û_i / τ + b_m + b_i`` (τ learnt, CLIP-style). Because the score is a dot
product, items are embedded once and served from a vector index (`emoalign.store.index`): an
item is stored as ``[û, τ·b]`` and a query as ``[û, 1]``, whose inner product ranks exactly like
``s``. Training is symmetric InfoNCE over the pairs of a batch (music→image and image→music),
with every known pair inside the batch counted as a positive (EMID pairs each clip with up to
three images, and an image with several clips; treating those as negatives would punish
correct answers).

*Joint input space* (music and images from one backend, same space id): the semantic part of a
tower is ``x + Δx`` with Δ initialised to zero, and the affect part also starts at zero — so the
untrained adapter **is** the semantic-only baseline, and training can only move away from it
when held-out pairs say so (epochs are chosen on validation Recall@10, epoch 0 included).
*Separate spaces* (e.g. an acoustic music embedding and an ImageNet image embedding): each
tower projects its input to ``dim`` with a learnt matrix; there is no semantic-only baseline.

Variants (what each takes from its namesake)
--------------------------------------------
``bmf`` — biased matrix factorisation (Koren et al. 2009): linear factors and item biases. The
   affect enters additively: one learnt factor vector per emotion label (weighted by ``p``) and
   one per V–A axis, plus a bias linear in the affect.
``svdpp`` — SVD++ (Koren 2008): the user (here: the music clip, the query side of EMID's
   recommendation task) is represented by its own factors *plus* the factors of the items it is
   implicitly associated with. Here a clip keeps BMF's own label factors and, in addition, its
   emotion distribution is carried into the image taxonomy through the affect space
   (`emoalign.affect.mapping_matrix`) and looks up the image side's emotion-label factors — the
   clip is also described in the images' emotional vocabulary.
   Images keep BMF's form. Tying the implicit factors to the image label factors (y = q) is
   our choice: with label-level "items" there are only a handful of them.
``ncf`` — neural collaborative filtering (He et al. 2017): a non-linear fusion. Each tower adds
   an MLP of ``[x, a]`` (one hidden layer, GELU, zero-initialised output) so content and
   emotion can interact. NCF's pairwise MLP over the concatenated pair is *not* used: it would
   need one forward pass per (query, candidate) and could not be served from a vector index;
   the dot-product output is NCF's GMF branch. No bias.

``use_affect=False`` trains the same network with the affect input zeroed: the control that
tells whether emotion — rather than training on the pairs — is what helps. ``freeze_semantic``
(joint spaces) keeps Δ = 0, so only the affect terms, biases and τ learn: a much lighter adapter
that cannot memorise the training pairs through a d×d matrix (choose it on validation).

Saved as a folder: ``config.json`` (hyper-parameters, input spaces, dimensions, taxonomies),
``weights.npz`` (the state dict as plain arrays, loaded with ``allow_pickle=False``) and
``history.json`` (loss and validation Recall@10 per epoch). Loading checks the format version;
`EMIAdapter.transform` refuses items from another vector space.

>>> import numpy as np
>>> from emoalign.store.items import ItemSet
>>> rng = np.random.default_rng(0)
>>> music = ItemSet.from_arrays([f"m{i}" for i in range(40)], rng.normal(size=(40, 8)), "toy", "emid13",
...                             probs=rng.dirichlet(np.ones(13), 40))
>>> images = ItemSet.from_arrays([f"i{i}" for i in range(40)], music.vectors + 0.1, "toy", "mikels8",
...                              probs=rng.dirichlet(np.ones(8), 40))
>>> pairs = np.stack([np.arange(40), np.arange(40)], axis=1)
>>> ad = EMIAdapter(variant="bmf", epochs=2, seed=0).fit(music, images, pairs[:30], val_pairs=pairs[30:])
>>> ad.transform(images, role="item").shape
(40, 9)
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from emoalign.affect import get_taxonomy, mapping_matrix
from emoalign.errors import SpaceMismatchError
from emoalign.store.items import ItemSet

FORMAT = "emoalign-emi-adapter"
FORMAT_VERSION = 1
VARIANTS: tuple[str, ...] = ("bmf", "svdpp", "ncf")
ROLES: tuple[str, ...] = ("item", "query")
MODALITIES: tuple[str, ...] = ("music", "image")


class AdapterFormatError(ValueError):
    """A folder that is not an adapter of this format version."""


@dataclass
class AdapterConfig:
    """Hyper-parameters (set by the user) and the input description (set by `fit`)."""

    variant: str = "svdpp"
    dim: int = 256
    hidden: int = 512
    epochs: int = 30
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    temperature: float = 0.07
    use_affect: bool = True
    #: joint input space only: keep the semantic part fixed (Δ = 0) and learn only how affect
    #: moves items (plus biases and τ). Far fewer weights — less room to memorise the pairs.
    freeze_semantic: bool = False
    patience: int = 8
    seed: int = 0
    #: torch threads while training/embedding. Steps are small (a 256-pair batch): OpenMP's
    #: synchronisation costs more than a second core gives, and on a loaded 2-core machine
    #: one step took 215 ms with 2 threads vs 4 ms with 1 (measured here).
    threads: int = 1
    # -- filled by fit ------------------------------------------------------------------------
    music_space: str = ""
    image_space: str = ""
    music_dim: int = 0
    image_dim: int = 0
    music_taxonomy: str = ""
    image_taxonomy: str = ""
    joint: bool = False
    out_dim: int = 0
    best_epoch: int = -1
    train_pairs: int = 0
    seconds: float = 0.0

    def check(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown adapter variant {self.variant!r}; choose one of {VARIANTS}")
        for name in ("dim", "hidden", "epochs", "batch_size"):
            if int(getattr(self, name)) < (0 if name == "epochs" else 1):
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not (self.lr > 0 and self.temperature > 0 and self.weight_decay >= 0):
            raise ValueError("lr and temperature must be > 0, weight_decay ≥ 0")

    @property
    def space_id(self) -> str:
        """The id of the adapter's output space (two adapters share it only if trained identically)."""
        return f"emi-adapter/{self.variant}/{self.music_space}+{self.image_space}/seed{self.seed}"


# ---------------------------------------------------------------------------------------------
# The network (torch is imported lazily: loading the package must not need it)
# ---------------------------------------------------------------------------------------------
def _build_net(cfg: AdapterConfig, music_k: int, image_k: int, mapping: np.ndarray | None):
    import torch
    from torch import nn

    class Tower(nn.Module):
        def __init__(self, d_in: int, k: int, shared: nn.Parameter | None = None, mapping_t: torch.Tensor | None = None) -> None:
            super().__init__()
            self.k = k
            out = cfg.out_dim
            if cfg.joint:
                self.delta = nn.Linear(d_in, d_in, bias=False)
                nn.init.zeros_(self.delta.weight)
                self.delta.weight.requires_grad_(not cfg.freeze_semantic)
            else:
                self.proj = nn.Linear(d_in, out, bias=False)
                nn.init.orthogonal_(self.proj.weight)
            if cfg.variant == "ncf":
                self.mlp = nn.Sequential(nn.Linear(d_in + k + 2, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, out))
                nn.init.zeros_(self.mlp[2].weight)
                nn.init.zeros_(self.mlp[2].bias)
            else:
                self.label_factors = nn.Parameter(torch.zeros(k, out))
                self.va_factors = nn.Parameter(torch.zeros(2, out))
                self.bias = nn.Linear(k + 2, 1)
                nn.init.zeros_(self.bias.weight)
                nn.init.zeros_(self.bias.bias)
                self.shared = shared  # svdpp, music side: the image label factors
                if mapping_t is not None:
                    self.register_buffer("mapping", mapping_t)
                else:
                    self.mapping = None

        def forward(self, x: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            base = x + self.delta(x) if cfg.joint else self.proj(x)
            if cfg.variant == "ncf":
                u = base + self.mlp(torch.cat([x, a], dim=1))
                b = torch.zeros(x.shape[0], dtype=x.dtype)
            else:
                p, va = a[:, : self.k], a[:, self.k :]
                u = base + p @ self.label_factors + va @ self.va_factors
                if self.shared is not None:
                    u = u + (p @ self.mapping) @ self.shared
                b = self.bias(a).squeeze(1)
            return nn.functional.normalize(u, dim=1), b

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.image = Tower(cfg.image_dim, image_k)
            if cfg.variant == "svdpp":
                self.music = Tower(cfg.music_dim, music_k, shared=self.image.label_factors,
                                   mapping_t=torch.as_tensor(mapping, dtype=torch.float32))
            else:
                self.music = Tower(cfg.music_dim, music_k)
            self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / cfg.temperature), dtype=torch.float32))

        def scale(self) -> torch.Tensor:
            return self.log_scale.clamp(max=math.log(100.0)).exp()

    return Net()


# ---------------------------------------------------------------------------------------------
# The learner
# ---------------------------------------------------------------------------------------------
class EMIAdapter:
    """scikit-learn-style EMI-Adapter: ``fit(music, images, pairs)``, ``transform(items, role=...)``.

    See the module docstring for the model. ``history_`` holds one dict per epoch (epoch 0 is
    the untrained model): ``train_loss``, ``val_loss``, ``val_r10_m2i``, ``val_r10_i2m``.
    """

    def __init__(self, config: AdapterConfig | None = None, **params: Any) -> None:
        cfg = copy.deepcopy(config) if config is not None else AdapterConfig()
        for key, value in params.items():
            if not hasattr(cfg, key):
                raise TypeError(f"unknown adapter parameter {key!r}")
            setattr(cfg, key, value)
        cfg.check()
        self.config = cfg
        self.history_: list[dict] = []
        self._net = None

    # -- fitting ------------------------------------------------------------------------------
    def fit(
        self,
        music: ItemSet,
        images: ItemSet,
        pairs: np.ndarray,
        *,
        val_pairs: np.ndarray | None = None,
        progress: Callable[[dict], None] | None = None,
    ) -> "EMIAdapter":
        """Train on ``pairs`` ((P, 2) music index, image index into ``music``/``images``).

        With ``val_pairs`` the state of the epoch with the best validation Recall@10 (mean of both
        directions; epoch 0 = untrained included) is kept and training stops after ``patience``
        epochs without improvement; without them the last epoch is kept.
        """

        cfg = self.config
        pairs = _check_pairs(pairs, len(music), len(images), "pairs")
        if len(pairs) == 0:
            raise ValueError("no training pairs")
        if val_pairs is not None:
            val_pairs = _check_pairs(val_pairs, len(music), len(images), "val_pairs")
            if len(val_pairs) == 0:
                val_pairs = None
        cfg.music_space, cfg.image_space = music.space, images.space
        cfg.music_dim, cfg.image_dim = music.dim, images.dim
        cfg.music_taxonomy, cfg.image_taxonomy = music.taxonomy, images.taxonomy
        cfg.joint = music.space == images.space and music.dim == images.dim
        if cfg.freeze_semantic and not cfg.joint:
            raise ValueError(f"freeze_semantic needs music and images in one joint space; got {music.space!r} and {images.space!r} "
                             "(separate spaces must learn their projections)")
        cfg.out_dim = music.dim if cfg.joint else int(cfg.dim)
        cfg.train_pairs = int(len(pairs))
        start = time.perf_counter()

        with _torch_threads(cfg.threads):
            return self._fit(music, images, pairs, val_pairs, progress, start)

    def _fit(self, music, images, pairs, val_pairs, progress, start) -> "EMIAdapter":
        import torch

        cfg = self.config
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        self._net = _build_net(cfg, len(get_taxonomy(music.taxonomy)), len(get_taxonomy(images.taxonomy)), self._mapping())
        net = self._net
        Xm, Am = self._inputs(music)
        Xi, Ai = self._inputs(images)
        codes = np.sort(pairs[:, 0] * len(images) + pairs[:, 1])
        # AdamW's decoupled decay pulls every weight toward 0 — for the joint residual Δ and
        # the affect factors that is toward the semantic-only start.
        opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps_per_epoch = max(1, math.ceil(len(pairs) / cfg.batch_size))
        total = max(1, steps_per_epoch * cfg.epochs)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))

        self.history_ = [self._epoch_record(0, float("nan"), music, images, val_pairs, Xm, Am, Xi, Ai)]
        if progress:
            progress(self.history_[-1])
        best_key, best_state, best_epoch, stale = self._key(self.history_[0]), self._state(), 0, 0
        for epoch in range(1, cfg.epochs + 1):
            net.train()
            order = rng.permutation(len(pairs))
            losses = []
            for s in range(0, len(order), cfg.batch_size):
                batch = pairs[order[s : s + cfg.batch_size]]
                if len(batch) < 2:
                    continue
                loss = self._batch_loss(batch, codes, len(images), Xm, Am, Xi, Ai)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                losses.append(float(loss.detach()))
            rec = self._epoch_record(epoch, float(np.mean(losses)) if losses else float("nan"),
                                     music, images, val_pairs, Xm, Am, Xi, Ai)
            self.history_.append(rec)
            if progress:
                progress(rec)
            if val_pairs is None:
                best_state, best_epoch = self._state(), epoch
                continue
            key = self._key(rec)
            if key > best_key:
                best_key, best_state, best_epoch, stale = key, self._state(), epoch, 0
            else:
                stale += 1
                if stale >= cfg.patience:
                    break
        self._net.load_state_dict(best_state)
        cfg.best_epoch = best_epoch
        cfg.seconds = round(time.perf_counter() - start, 3)
        return self

    @staticmethod
    def _key(rec: dict) -> tuple[float, float]:
        vals = [rec[k] for k in ("val_r10_m2i", "val_r10_i2m") if k in rec and np.isfinite(rec[k])]
        return (float(np.mean(vals)) if vals else -1.0, -float(rec.get("val_loss", 0.0) or 0.0))

    def _state(self) -> dict:
        return {k: v.detach().clone() for k, v in self._net.state_dict().items()}

    def _mapping(self) -> np.ndarray | None:
        cfg = self.config
        if cfg.variant != "svdpp":
            return None
        return mapping_matrix(cfg.music_taxonomy, cfg.image_taxonomy).astype(np.float32)

    def _inputs(self, items: ItemSet):
        import torch

        a = items.affect_features()
        if not self.config.use_affect:
            a = np.zeros_like(a)
        return torch.from_numpy(items.unit_vectors()), torch.from_numpy(a)

    def _batch_loss(self, batch, codes, n_images, Xm, Am, Xi, Ai):
        import torch

        net = self._net
        mi, ii = batch[:, 0], batch[:, 1]
        um, bm = net.music(Xm[mi], Am[mi])
        ui, bi = net.image(Xi[ii], Ai[ii])
        logits = net.scale() * (um @ ui.T) + bm[:, None] + bi[None, :]
        # every known pair in the batch is a positive (same clip twice, an image shared by clips)
        grid = mi[:, None] * n_images + ii[None, :]
        pos = np.searchsorted(codes, grid)
        pos = torch.from_numpy(codes[np.minimum(pos, len(codes) - 1)] == grid)
        return 0.5 * (_multi_positive_nce(logits, pos) + _multi_positive_nce(logits.T, pos.T))

    def _epoch_record(self, epoch, train_loss, music, images, val_pairs, Xm, Am, Xi, Ai) -> dict:
        rec = {"epoch": epoch, "train_loss": train_loss}
        if val_pairs is None:
            return rec
        import torch

        from emoalign.learn.adapter_eval import ranks_for_pairs

        net = self._net
        net.eval()
        with torch.no_grad():
            vm = np.unique(val_pairs[:, 0])
            vi = np.unique(val_pairs[:, 1])
            um, bm = net.music(Xm[vm], Am[vm])
            ui, bi = net.image(Xi[vi], Ai[vi])
            scale = net.scale()
            logits = (scale * (um @ ui.T) + bm[:, None] + bi[None, :]).numpy()
            codes = np.sort(val_pairs[:, 0] * len(images) + val_pairs[:, 1])
            grid = vm[:, None] * len(images) + vi[None, :]
            pos = np.searchsorted(codes, grid)
            posm = codes[np.minimum(pos, len(codes) - 1)] == grid
            lt = torch.from_numpy(logits)
            pt = torch.from_numpy(posm)
            rec["val_loss"] = float(0.5 * (_multi_positive_nce(lt, pt) + _multi_positive_nce(lt.T, pt.T)))
        r_m2i, r_i2m = ranks_for_pairs(logits, posm)
        rec["val_r10_m2i"] = float((r_m2i <= 10).mean())
        rec["val_r10_i2m"] = float((r_i2m <= 10).mean())
        return rec

    # -- using --------------------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return self._net is not None

    def _check_fitted(self) -> None:
        if self._net is None:
            raise RuntimeError("adapter is not fitted: call fit() or EMIAdapter.load()")

    def modality_of(self, items: ItemSet) -> str:
        """Which tower takes these items: by space (and taxonomy when both towers share a space)."""
        cfg = self.config
        if cfg.joint:
            if items.space != cfg.music_space:
                raise SpaceMismatchError(
                    f"items are in space {items.space!r}; this adapter was trained on {cfg.music_space!r}"
                )
            if cfg.music_taxonomy != cfg.image_taxonomy:
                if items.taxonomy == cfg.music_taxonomy:
                    return "music"
                if items.taxonomy == cfg.image_taxonomy:
                    return "image"
            raise ValueError("both towers share this space and taxonomy: pass modality='music' or 'image'")
        if items.space == cfg.music_space:
            return "music"
        if items.space == cfg.image_space:
            return "image"
        raise SpaceMismatchError(
            f"items are in space {items.space!r}; this adapter was trained on music from "
            f"{cfg.music_space!r} and images from {cfg.image_space!r}"
        )

    def embed(self, items: ItemSet, modality: str | None = None, *, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """(unit vectors (n, out_dim), biases (n,)) of items in the shared space."""
        import torch

        self._check_fitted()
        cfg = self.config
        modality = modality or self.modality_of(items)
        if modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
        space, dim, tax = (
            (cfg.music_space, cfg.music_dim, cfg.music_taxonomy) if modality == "music"
            else (cfg.image_space, cfg.image_dim, cfg.image_taxonomy)
        )
        if items.space != space:
            raise SpaceMismatchError(f"{modality} items are in space {items.space!r}; this adapter's {modality} tower takes {space!r}")
        if items.dim != dim:
            raise SpaceMismatchError(f"{modality} vectors have {items.dim} dimensions; this adapter takes {dim}")
        if items.taxonomy != tax:
            raise ValueError(f"{modality} affect is over {items.taxonomy!r}; this adapter takes {tax!r}")
        tower = self._net.music if modality == "music" else self._net.image
        X, A = self._inputs(items)
        out_u, out_b = [], []
        self._net.eval()
        with torch.no_grad(), _torch_threads(cfg.threads):
            for s in range(0, len(items), batch_size):
                u, b = tower(X[s : s + batch_size], A[s : s + batch_size])
                out_u.append(u.numpy())
                out_b.append(b.numpy())
        if not out_u:
            return np.zeros((0, cfg.out_dim), np.float32), np.zeros(0, np.float32)
        return np.concatenate(out_u).astype(np.float32), np.concatenate(out_b).astype(np.float32)

    @property
    def temperature_(self) -> float:
        self._check_fitted()
        return float(1.0 / self._net.scale().detach())

    def transform(self, items: ItemSet, role: str = "item", modality: str | None = None) -> np.ndarray:
        """Index-ready vectors (n, out_dim + 1): items ``[û, τ·b]``, queries ``[û, 1]``.

        A query's inner product with an item ranks items like the model score û·û'/τ + b_item.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        u, b = self.embed(items, modality)
        last = (self.temperature_ * b)[:, None] if role == "item" else np.ones((len(u), 1), np.float32)
        return np.concatenate([u, last.astype(np.float32)], axis=1)

    def score(self, music: ItemSet, images: ItemSet) -> np.ndarray:
        """(n_music, n_images) model scores û_m·û_i/τ + b_m + b_i."""
        um, bm = self.embed(music, "music")
        ui, bi = self.embed(images, "image")
        return (um @ ui.T) / self.temperature_ + bm[:, None] + bi[None, :]

    @property
    def out_dim(self) -> int:
        return int(self.config.out_dim) + 1

    # -- persistence --------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write ``config.json``, ``weights.npz`` and ``history.json`` into ``folder`` (atomically per file)."""
        from emoalign.store.features import write_atomic

        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().numpy() for k, v in self._net.state_dict().items()}
        config = {"format": FORMAT, "format_version": FORMAT_VERSION, "space": self.config.space_id, **asdict(self.config)}

        def npz(fh):
            np.savez(fh, **state)

        write_atomic(folder / "weights.npz", npz)
        write_atomic(folder / "history.json", lambda fh: fh.write(json.dumps(self.history_, indent=1).encode()))
        write_atomic(folder / "config.json", lambda fh: fh.write(json.dumps(config, indent=1).encode()))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "EMIAdapter":
        """Read a saved adapter; refuses other formats and versions, never unpickles."""
        import torch

        folder = Path(folder)
        path = folder / "config.json"
        if not path.is_file():
            raise AdapterFormatError(f"{folder}: no config.json (not an EMI-Adapter folder)")
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise AdapterFormatError(f"{path}: not valid JSON ({exc})") from None
        if raw.get("format") != FORMAT:
            raise AdapterFormatError(f"{path}: format {raw.get('format')!r}, expected {FORMAT!r}")
        if raw.get("format_version") != FORMAT_VERSION:
            raise AdapterFormatError(
                f"{path}: format version {raw.get('format_version')!r}; this emoalign reads version {FORMAT_VERSION} — retrain the adapter"
            )
        known = {f for f in AdapterConfig.__dataclass_fields__}
        cfg = AdapterConfig(**{k: v for k, v in raw.items() if k in known})
        cfg.check()
        self = cls(cfg)
        mapping = self._mapping()
        self._net = _build_net(cfg, len(get_taxonomy(cfg.music_taxonomy)), len(get_taxonomy(cfg.image_taxonomy)), mapping)
        try:
            with np.load(folder / "weights.npz", allow_pickle=False) as data:
                state = {k: torch.from_numpy(np.array(data[k])) for k in data.files}
        except (OSError, ValueError) as exc:
            raise AdapterFormatError(f"{folder / 'weights.npz'}: unreadable weights ({exc})") from None
        try:
            self._net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise AdapterFormatError(f"{folder / 'weights.npz'}: weights do not fit config.json ({exc})") from None
        hist = folder / "history.json"
        self.history_ = json.loads(hist.read_text()) if hist.is_file() else []
        return self

    def n_parameters(self) -> int:
        self._check_fitted()
        return int(sum(p.numel() for p in self._net.parameters()))


class _torch_threads:
    """Run a block with ``n`` torch intra-op threads, restoring the previous count after."""

    def __init__(self, n: int) -> None:
        self.n = max(1, int(n or 1))

    def __enter__(self) -> None:
        import torch

        self.before = torch.get_num_threads()
        if self.before != self.n:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc) -> None:
        import torch

        if torch.get_num_threads() != self.before:
            torch.set_num_threads(self.before)


def _multi_positive_nce(logits, pos):
    """Mean over rows of −log Σ_{positives} softmax(row) (rows without a positive are skipped)."""
    import torch

    lse_all = torch.logsumexp(logits, dim=1)
    masked = logits.masked_fill(~pos, float("-inf"))
    lse_pos = torch.logsumexp(masked, dim=1)
    keep = pos.any(dim=1)
    return (lse_all[keep] - lse_pos[keep]).mean()


def _check_pairs(pairs: np.ndarray, n_music: int, n_images: int, name: str) -> np.ndarray:
    pairs = np.asarray(pairs, dtype=np.int64)
    if pairs.size == 0:
        return pairs.reshape(0, 2)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"{name} must be (P, 2) (music index, image index), got shape {pairs.shape}")
    if pairs.min() < 0 or pairs[:, 0].max() >= n_music or pairs[:, 1].max() >= n_images:
        raise ValueError(f"{name}: index out of range ({n_music} music items, {n_images} images)")
    return np.unique(pairs, axis=0)
