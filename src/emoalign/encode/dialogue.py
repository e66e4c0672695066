"""Text emotion read in its dialogue: every turn of a conversation scored with the context of the others.

The engine under ``emoalign analyze --dialogue FILE.csv``, the Python API and the service's
dialogue endpoint. Turns (`emoalign.data.dialogue_csv.DialogueTurn`, in the order spoken) are
grouped by dialogue; each dialogue goes to the text encoder's ``encode_dialogue`` with its
speakers, so a turn's context is its own speaker's other turns in that dialogue (how the
EmotionTalk head was trained). Context modes:

- ``"preceding"`` (default): the speaker's earlier turns only. A turn's result never depends on
  anything said after it, so it can run live as a conversation unfolds;
- ``"dialogue"``: all of the speaker's other turns, before and after (offline analysis);
- ``"none"``: each turn alone (same as ``analyze --text``).

Context is used for Chinese turns (the EmotionTalk head); turns in other languages are scored on
their own and say so (``details["context"] == "utterance"``). A turn whose text is empty gets an
``error`` and is left out of its neighbours' context; the other turns go on.

>>> from emoalign.data.dialogue_csv import DialogueTurn
>>> turns = [DialogueTurn("d1", "A", "你怎么又迟到了？", "t1"), DialogueTurn("d1", "B", "路上堵车嘛。", "t2")]
>>> rows = analyze_dialogue(turns, context="preceding")  # doctest: +SKIP
>>> [(r["id"], r["label"]) for r in rows]  # doctest: +SKIP
[('t1', 'angry'), ('t2', 'neutral')]
"""

from __future__ import annotations

from typing import Any, Sequence

from emoalign.data.dialogue_csv import DialogueTurn
from emoalign.encode.registry import DEFAULTS, get_encoder

#: User-facing context names → the text encoder's context modes.
CONTEXTS: dict[str, str] = {"preceding": "preceding", "dialogue": "dialogue", "none": "utterance"}
DEFAULT_CONTEXT = "preceding"


def analyze_dialogue(turns: Sequence[DialogueTurn], context: str = DEFAULT_CONTEXT, *,
                     backend: str | None = None) -> list[dict[str, Any]]:
    """One result dict per turn, in the order of ``turns``: the fields of ``emoalign analyze --json``
    plus ``id``, ``dialogue`` and ``speaker``.

    ``backend`` names a text encoder with an ``encode_dialogue`` method (default: the offline one).
    """
    if context not in CONTEXTS:
        raise ValueError(f"context must be one of {', '.join(CONTEXTS)}, got {context!r}")
    name = backend or DEFAULTS["text"]
    encoder = get_encoder(name)
    if encoder.modality != "text" or not hasattr(encoder, "encode_dialogue"):
        raise ValueError(f"encoder {name!r} cannot read dialogues (it needs a text encoder with encode_dialogue)")
    by_dialogue: dict[str, list[int]] = {}
    for i, turn in enumerate(turns):
        by_dialogue.setdefault(turn.dialogue, []).append(i)
    results: list[Any] = [None] * len(turns)
    for rows in by_dialogue.values():
        # each dialogue on its own: the encoder reads context within one conversation
        outs = encoder.encode_dialogue([turns[i].text for i in rows], context=CONTEXTS[context],
                                       speakers=[turns[i].speaker for i in rows])
        for i, res in zip(rows, outs):
            results[i] = res
    return [_row(turn, res, name, context) for turn, res in zip(turns, results)]


def _row(turn: DialogueTurn, res: Any, encoder: str, context: str) -> dict[str, Any]:
    from emoalign.encode.analyze import _jsonable

    text = turn.text.strip()
    row: dict[str, Any] = {"id": turn.id, "dialogue": turn.dialogue, "speaker": turn.speaker,
                           "input": text if len(text) <= 80 else text[:77] + "...", "modality": "text",
                           "encoder": encoder, "taxonomy": None, "label": None, "confidence": None, "probs": None,
                           "valence": None, "arousal": None, "dominance": None, "error": None}
    if res.error:
        row["error"] = f"{turn.id}: {res.error}"
    elif res.affect is None:
        row["error"] = f"{turn.id}: encoder {encoder!r} returned no affect"
    else:
        row.update(res.affect.to_dict())
    row["details"] = _jsonable({**(res.details or {}), "context_requested": context})
    return row
