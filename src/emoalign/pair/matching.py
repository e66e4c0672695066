"""The EMID-Emotion-Matching recipe: yes/no emotion-matching examples from any paired source.

What the derived set (Hugging Face ``lossminimilization/EMID-Emotion-Matching``, built by a
``prepare_emid_pairs.py`` script) did, per its dataset card and shared/EMID.md:

1. take up to ``MAX_SOURCE_ROWS = 4000`` EMID rows (one clip and its up to three images);
2. build an image pool keyed by normalised tag;
3. for each (clip, own image): one positive (``same=True``, ``emotion`` = the image's normalised
   tag, ``answer = "yes - {emotion}"``) and ``NEGATIVES_PER_POSITIVE = 1`` negative with an image
   drawn from a *different* tag (``same=False``, ``emotion = ""``, ``answer = "no"``);
4. tags normalised to lower case with spaces and punctuation → ``_``;
5. a question drawn at random from a few templates;
6. ``TRAIN_FRACTION = 0.8`` of the examples for training (19,200 / 4,800 of ~24,000).

Choices made here where the card is silent (each stated, each changeable):

* **Rows** are the first ``max_rows`` clips in the source's order (EMID: CSV order), the way a
  ``head(MAX_SOURCE_ROWS)`` would take them.
* **Negatives**: a different tag is drawn uniformly among the other tags present in the pool, then
  an image uniformly within that tag (so rare tags are not starved).
* **Normalisation** is `emoalign.data.emid_matching.normalise_tag` (the reader of the derived set
  uses the same function): runs of anything but ``[0-9a-z]`` become one ``_``, trimmed at the ends
  (``"Anxious, tense"`` → ``anxious_tense``); on EMID's single-word Mikels tags it is the identity.
* **Templates**: the card does not list its templates, so `QUESTION_TEMPLATES` are our own five
  (pass ``templates=`` to use others).
* **Split by music clip**, not by example: the clips are shuffled with the seed and the first
  ``train_fraction`` of them go to train, so no clip is in both splits (a random per-example
  split, as the card's counts suggest, puts the same clip on both sides: its 6 examples leak).
  Examples are then shuffled within each split.

Everything random draws from one ``numpy.random.default_rng(seed)`` in a fixed order, so the same
inputs and seed give the same examples.

>>> normalise_tag("Awe ")
'awe'
>>> normalise_tag("Anxious, tense")
'anxious_tense'
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np

from emoalign.data.emid_matching import expected_answer, normalise_tag
from emoalign.types import Pair

MAX_SOURCE_ROWS = 4000
NEGATIVES_PER_POSITIVE = 1
TRAIN_FRACTION = 0.8

#: Our own templates (the derived set's are not published); each asks the same yes/no question.
QUESTION_TEMPLATES: tuple[str, ...] = (
    "Do this music and this image express the same emotion? Answer 'yes - <emotion>' or 'no'.",
    "Listen to the audio and look at the picture. Do they convey the same feeling? If they do, name it.",
    "Is the mood of this music clip consistent with the mood of this image? Reply yes or no; if yes, give the emotion.",
    "Would this image be an emotionally fitting visual for this music? Answer yes (with the shared emotion) or no.",
    "Does the emotion you hear match the emotion you see? Respond 'yes - <emotion>' or 'no'.",
)

def answer_for(same: bool, emotion: str) -> str:
    """``"yes - {emotion}"`` for a positive, ``"no"`` for a negative (the derived set's answers)."""
    return expected_answer(same, emotion)


@dataclass(frozen=True)
class Example:
    """One yes/no example. ``image_tag`` is the (normalised) tag of the image shown."""

    id: str
    music_id: str
    image_id: str
    same: bool
    emotion: str
    question: str
    answer: str
    split: str
    image_tag: str
    positive_tag: str

    def to_pair(self, source: str = "matching") -> Pair:
        return Pair(self.music_id, self.image_id, source=source, same=self.same, emotion=self.emotion,
                    question=self.question, answer=self.answer, split=self.split)


@dataclass
class MatchingConfig:
    """Settings of ``emoalign matching build`` (defaults: the derived set's constants)."""

    max_rows: int = MAX_SOURCE_ROWS
    negatives_per_positive: int = NEGATIVES_PER_POSITIVE
    train_fraction: float = TRAIN_FRACTION
    seed: int = 0
    templates: tuple[str, ...] = QUESTION_TEMPLATES

    def __post_init__(self) -> None:
        if self.max_rows < 1:
            raise ValueError(f"max_rows must be ≥ 1, got {self.max_rows}")
        if self.negatives_per_positive < 0:
            raise ValueError(f"negatives_per_positive must be ≥ 0, got {self.negatives_per_positive}")
        if not 0.0 <= self.train_fraction <= 1.0:
            raise ValueError(f"train_fraction must be in [0, 1], got {self.train_fraction}")
        if not self.templates:
            raise ValueError("at least one question template is needed")


@dataclass
class MatchingSet:
    examples: list[Example]
    config: MatchingConfig
    rows: list[tuple[str, list[str]]]  # (music_id, its image ids) used
    problems: list[str] = field(default_factory=list)

    def split(self, name: str) -> list[Example]:
        return [e for e in self.examples if e.split == name]

    def counts(self) -> dict:
        out: dict = {}
        for split in ("train", "test"):
            ex = self.split(split)
            out[split] = {
                "examples": len(ex),
                "positives": sum(e.same for e in ex),
                "negatives": sum(not e.same for e in ex),
                "clips": len({e.music_id for e in ex}),
                "images": len({e.image_id for e in ex}),
            }
        train_clips = {e.music_id for e in self.split("train")}
        test_clips = {e.music_id for e in self.split("test")}
        out["clips_in_both_splits"] = len(train_clips & test_clips)
        out["positive_tags"] = dict(sorted(Counter(e.emotion for e in self.examples if e.same).items()))
        return out

    def to_dict(self) -> dict:
        return {"config": asdict(self.config), "counts": self.counts(), "problems": self.problems}


def select_rows(pairs: Iterable[Pair], max_rows: int) -> list[tuple[str, list[str]]]:
    """The first ``max_rows`` clips in source order, each with its images in rank order."""
    rows: dict[str, list[tuple[int, int, str]]] = {}
    for n, p in enumerate(pairs):
        if p.same is False:  # a matching set's own negatives are not pairs of the clip
            continue
        if p.music_id not in rows:
            if len(rows) >= max_rows:
                continue
            rows[p.music_id] = []
        images = rows[p.music_id]
        if all(img != p.image_id for _, _, img in images):
            images.append((p.rank if p.rank is not None else 1 << 30, n, p.image_id))
    return [(music, [img for _, _, img in sorted(images)]) for music, images in rows.items()]


def build_matching(
    rows: Sequence[tuple[str, Sequence[str]]],
    image_tags: Mapping[str, str],
    config: MatchingConfig | None = None,
) -> MatchingSet:
    """Positives, negatives, questions and the by-clip split, from (clip, images) rows and image tags.

    ``image_tags`` maps image id → tag (raw; normalised here). Images without a tag are skipped
    (reported in ``problems``). A positive whose tag is the only one in the pool gets no
    negative (reported).

    >>> rows = [("m1", ["a.jpg"]), ("m2", ["b.jpg"])]
    >>> ms = build_matching(rows, {"a.jpg": "Awe", "b.jpg": "fear"}, MatchingConfig(seed=1, train_fraction=0.5))
    >>> sorted((e.music_id, e.same, e.image_id, e.answer) for e in ms.examples)
    [('m1', False, 'b.jpg', 'no'), ('m1', True, 'a.jpg', 'yes - awe'), ('m2', False, 'a.jpg', 'no'), ('m2', True, 'b.jpg', 'yes - fear')]
    >>> ms.counts()["clips_in_both_splits"]
    0
    """
    config = config or MatchingConfig()
    rng = np.random.default_rng(config.seed)
    problems: list[str] = []
    tags: dict[str, str] = {}
    kept_rows: list[tuple[str, list[str]]] = []
    for music_id, images in rows[: config.max_rows]:
        ok = []
        for image_id in images:
            raw = image_tags.get(image_id)
            tag = normalise_tag(raw) if raw else ""
            if not tag:
                problems.append(f"{music_id} / {image_id}: image has no emotion tag; skipped")
                continue
            tags[image_id] = tag
            ok.append(image_id)
        if ok:
            kept_rows.append((music_id, ok))
        else:
            problems.append(f"{music_id}: no tagged image; clip skipped")
    # the pool: tag → sorted image ids (sorted so that the draw does not depend on input order)
    pool: dict[str, list[str]] = {}
    for image_id, tag in tags.items():
        pool.setdefault(tag, []).append(image_id)
    pool_tags = sorted(pool)
    for tag in pool_tags:
        pool[tag].sort()
    # split by clip
    clips = [m for m, _ in kept_rows]
    perm = rng.permutation(len(clips))
    n_train = int(round(config.train_fraction * len(clips)))
    split_of = {clips[i]: ("train" if rank < n_train else "test") for rank, i in enumerate(perm)}
    drafts: list[tuple[str, str, bool, str, str]] = []  # music, image, same, image tag, positive tag
    for music_id, images in kept_rows:
        for image_id in images:
            tag = tags[image_id]
            drafts.append((music_id, image_id, True, tag, tag))
            others = [t for t in pool_tags if t != tag]
            if not others and config.negatives_per_positive:
                problems.append(f"{music_id} / {image_id}: no image with a tag other than {tag!r}; no negative")
                continue
            for _ in range(config.negatives_per_positive if others else 0):
                neg_tag = others[int(rng.integers(len(others)))]
                neg_image = pool[neg_tag][int(rng.integers(len(pool[neg_tag])))]
                drafts.append((music_id, neg_image, False, neg_tag, tag))
    questions = rng.integers(len(config.templates), size=len(drafts))
    examples: list[Example] = []
    by_split: dict[str, list[int]] = {"train": [], "test": []}
    for i, (music_id, image_id, same, image_tag, pos_tag) in enumerate(drafts):
        by_split[split_of[music_id]].append(i)
    for split in ("train", "test"):
        order = [by_split[split][j] for j in rng.permutation(len(by_split[split]))]
        for n, i in enumerate(order):
            music_id, image_id, same, image_tag, pos_tag = drafts[i]
            emotion = image_tag if same else ""
            examples.append(Example(
                id=f"{split}-{n:06d}", music_id=music_id, image_id=image_id, same=same, emotion=emotion,
                question=config.templates[int(questions[i])], answer=answer_for(same, emotion),
                split=split, image_tag=image_tag, positive_tag=pos_tag,
            ))
    return MatchingSet(examples, config, kept_rows, problems)
