"""EmotionTalk (Sun et al. 2025, arXiv 2505.23018): Chinese dyadic dialogue, text / speech / video.

Two layouts are read:

* `EmotionTalkSource` — the annotation CSVs of the official repository
  (github.com/flageval-baai/EmotionTalk, ``EmotionTalk/dataset/mm-process/``): ``transcription.csv``
  (name, emotion, chinese), ``audio.csv`` / ``video.csv`` / ``mm.csv`` (file_name, emotion) and,
  where present, ``splits.csv`` (utterance, split, emotion_mm, sentiment_mm) with the official
  split and the continuous multimodal sentiment.
* `EmotionTalkReleaseSource` — the public release (huggingface.co/datasets/BAAI/Emotiontalk):
  per-modality tar archives ``Audio.tar``, ``Text.tar``, ``Video.tar``, ``Multimodal.tar`` whose
  members are ``<Modality>/json/<G>/<G>_<d>/<G>_<d>_<s>/<utt>.json`` annotations and
  ``Audio/wav/…/<utt>.wav``, ``Multimodal/mp4/…/<utt>.mp4`` media. Members are read straight
  from the archives (never unpacked to disk), after path checks.

Utterance names read ``G00009_42_14_024``: recording group ``G00009`` (one pair of actors; the
official split holds groups out: val G00001/G00012, test G00003/G00015), dialogue 42 of that
group, speaker ``14`` (19 speaker codes in all, two per group), utterance 24 of the dialogue.
The record's ``group`` is the speaker (``speaker14``); group, dialogue and index are in ``meta``.
Labels: ``emotiontalk7`` (multimodal), ``emotiontalk7/text|audio|video`` (per modality) and
``emotiontalk_sentiment5`` (continuous sentiment −2..2 rounded to the nearest level; the
continuous value is ``meta["sentiment"]`` and ``valence = sentiment / 2``).

>>> from emoalign.data import open_source
>>> from emoalign.data.fixtures import emotiontalk
>>> src = open_source("emotiontalk", emotiontalk.make("fixtures")["emotiontalk"])  # a small copy of the CSV layout
>>> r = next(src.records(split="test"))
>>> r.id, r.labels["emotiontalk7"], r.text
('G00003_58_02_001', 'neutral', '这个东西放在桌子上就行了。')
"""

from __future__ import annotations

import csv
import json
import posixpath
import re
import tarfile
from collections import Counter
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, Iterator, Sequence

from emoalign.affect import get_taxonomy
from emoalign.affect.taxonomy import UnknownLabelError
from emoalign.data.base import Source
from emoalign.errors import BadInputError
from emoalign.types import Record

TAXONOMY = "emotiontalk7"
SENTIMENT_TAXONOMY = "emotiontalk_sentiment5"
SPLITS = ("train", "val", "test")
MODALITIES = ("text", "speech", "video")
#: Per-modality label keys: the annotation files are named after audio/video/text.
MODALITY_KEYS = {"text": f"{TAXONOMY}/text", "audio": f"{TAXONOMY}/audio", "video": f"{TAXONOMY}/video"}

#: The official split (README of flageval-baai/EmotionTalk and the BAAI/Emotiontalk card:
#: "Val(G01/G12)", "Test(G03/G15)", every other group in train). Checked against splits.csv.
OFFICIAL_SPLIT_GROUPS = {"G00001": "val", "G00012": "val", "G00003": "test", "G00015": "test"}

UTTERANCE_RE = re.compile(r"^(G\d{5})_(\d+)_(\d+)_(\d+)$")



# --------------------------------------------------------------------------------------------
# helpers shared by both layouts
# --------------------------------------------------------------------------------------------
def parse_utterance(name: str) -> dict[str, Any]:
    """Split an utterance name (or a path ending in one) into its parts.

    >>> parse_utterance("G00009/G00009_42/G00009_42_14/G00009_42_14_024.wav")
    {'utterance': 'G00009_42_14_024', 'recording_group': 'G00009', 'dialogue': 'G00009_42', 'speaker': '14', 'index': 24}
    """
    stem = name.replace("\\", "/").rsplit("/", 1)[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    m = UTTERANCE_RE.match(stem)
    if not m:
        raise ValueError(f"bad utterance name {name!r}: expected G<5 digits>_<dialogue>_<speaker>_<index>")
    g, d, s, i = m.groups()
    return {"utterance": stem, "recording_group": g, "dialogue": f"{g}_{d}", "speaker": s, "index": int(i)}


def relative_media_path(utterance: str, suffix: str) -> str:
    """``G00009_42_14_024`` → ``G00009/G00009_42/G00009_42_14/G00009_42_14_024<suffix>`` (the release's nesting)."""
    p = parse_utterance(utterance)
    return f"{p['recording_group']}/{p['dialogue']}/{p['dialogue']}_{p['speaker']}/{utterance}{suffix}"


def official_split(utterance: str) -> str:
    """The official group-held-out split of an utterance.

    >>> official_split("G00003_40_02_009"), official_split("G00009_42_14_024")
    ('test', 'train')
    """
    return OFFICIAL_SPLIT_GROUPS.get(parse_utterance(utterance)["recording_group"], "train")


@lru_cache(maxsize=1024)
def normalize_label(value: str) -> str:
    """Map a spelling of one of the seven emotions to its ``emotiontalk7`` name (raises `UnknownLabelError`).

    Names, release codes and the other spellings (``aliases`` in ``affect/data/emotiontalk7.json``).

    >>> normalize_label("Surprise"), normalize_label("厌恶"), normalize_label("1")
    ('surprised', 'disgusted', 'happy')
    """
    return get_taxonomy(TAXONOMY).label(str(value)).name


@lru_cache(maxsize=1024)
def sentiment_level(value: float) -> str:
    """Nearest of the five sentiment levels (−2..2) for a continuous score; halves go towards 0.

    >>> sentiment_level(-0.4), sentiment_level(1.6), sentiment_level(-2.0)
    ('neutral', 'strongly positive', 'strongly negative')
    """
    v = max(-2.0, min(2.0, float(value)))
    level = int(abs(v) + 0.5 - 1e-9) * (1 if v >= 0 else -1)  # |x.5| rounds towards neutral
    return get_taxonomy(SENTIMENT_TAXONOMY).label(str(level)).name


_EVENT_RE = re.compile(r"\[([A-Za-z]+)\]")
# An overlap marker that swallowed the first words: [over/我敲您] → 我敲您
_OVER_WITH_TEXT = re.compile(r"\[over/([^\[\]/]+)\]")
# Every other overlap marker, well-formed or not: [over/] [/over] [over] [[/over] [over[ [/over/] over]
_OVER = re.compile(r"\[{1,2}/?over/?\]?|\[?/over/?\]|over\]", re.IGNORECASE)
_MARKERS = {"over"}


def clean_transcript(raw: str, *, keep_events: bool = False) -> tuple[str, list[str]]:
    """Remove EmotionTalk's transcription markers: (clean text, non-verbal events in order).

    The one set of rules for EmotionTalk text (the data adapter and the text encoder both use it):

    1. overlap markers ``[over/]…[/over]`` and their malformed variants (``[over]…[over]``,
       ``[[/over]``, ``[over/呀[/over]``, ``[over/我敲您]``) are dropped, the words they enclose
       kept; ``over`` outside brackets (English text) is a word and stays;
    2. bracketed events (``[interrupted]``, ``[laughing]``, ``[Sobbing]``, …) are returned
       lower-cased; they are dropped from the text (the adapter: its ``text`` is the words, the
       events go to ``meta["events"]``) unless ``keep_events`` (the text encoder: its heads were
       trained with the tags in place, which carry emotion), and then with them any stray bracket;
    3. white space is collapsed to single spaces and stripped.

    >>> clean_transcript("[over/]挺[/over]好的[laughing]，[over/呀[/over]。[interrupted]")
    ('挺好的，呀。', ['laughing', 'interrupted'])
    >>> clean_transcript("[over/]还给他点[/over]饭。[laughing]", keep_events=True)
    ('还给他点饭。[laughing]', ['laughing'])
    """
    events = [m.group(1).lower() for m in _EVENT_RE.finditer(raw) if m.group(1).lower() not in _MARKERS]
    text = _OVER.sub("", _OVER_WITH_TEXT.sub(r"\1", raw))
    if not keep_events:
        text = _EVENT_RE.sub(lambda m: "" if m.group(1).lower() not in _MARKERS else m.group(0), text)
        text = text.replace("[", "").replace("]", "")
    return " ".join(text.split()), events


def _parse_modalities(modality: str | Sequence[str]) -> tuple[str, ...]:
    items = [modality] if isinstance(modality, str) else list(modality)
    out: list[str] = []
    for item in items:
        for m in str(item).split(","):
            m = m.strip().lower()
            if m == "all":
                out.extend(MODALITIES)
            elif m == "audio":
                out.append("speech")
            elif m in MODALITIES:
                out.append(m)
            elif m:
                raise ValueError(f"emotiontalk: unknown modality {m!r}; expected one of {MODALITIES} or 'all'")
    if not out:
        raise ValueError("emotiontalk: no modality given")
    return tuple(dict.fromkeys(out))


def _check_split(split: str | None) -> None:
    if split is not None and split not in SPLITS:
        raise ValueError(f"emotiontalk: unknown split {split!r}; expected one of {SPLITS}")


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a UTF-8 CSV with their 1-based line numbers (header is line 1)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            yield reader.line_num, row


# --------------------------------------------------------------------------------------------
# annotation CSVs
# --------------------------------------------------------------------------------------------
class EmotionTalkSource(Source):
    """EmotionTalk's annotation CSVs; one record per utterance and requested modality.

    Options: ``modality`` — ``"text"`` (default), ``"speech"``, ``"video"``, a comma list or
    ``"all"``; ``media_root`` — the folder holding the release's media (``Audio/wav/…``,
    ``Multimodal/mp4/…``, or the same nesting directly), so speech/video records point at real
    files; ``require_media`` — skip (and count) speech/video records whose file is missing.
    Without ``media_root`` a speech/video record's ``path`` is the relative path of the CSVs.
    Record ids are the utterance names, suffixed ``:<modality>`` when several modalities are asked.
    Without ``splits.csv`` the split follows the official group rule and there is no sentiment.
    """

    name = "emotiontalk"
    taxonomy = TAXONOMY

    def __init__(
        self,
        root: str | Path,
        *,
        modality: str | Sequence[str] = "text",
        media_root: str | Path | None = None,
        require_media: bool = False,
        strict: bool = False,
    ) -> None:
        super().__init__(root, strict=strict)
        if self.root.is_file():
            self.root = self.root.parent
        self.modalities = _parse_modalities(modality)
        self.media_root = Path(media_root) if media_root is not None else None
        if require_media and self.media_root is None:
            raise ValueError("emotiontalk: require_media needs media_root (where the audio/video files are)")
        self.require_media = require_media
        if not (self.root / "splits.csv").exists() and not (self.root / "mm.csv").exists():
            raise FileNotFoundError(
                f"emotiontalk: {self.root} has neither splits.csv nor mm.csv "
                "(expected the annotation CSVs of EmotionTalk/dataset/mm-process)"
            )
        if "text" in self.modalities and not (self.root / "transcription.csv").exists():
            raise FileNotFoundError(f"emotiontalk: {self.root / 'transcription.csv'} is needed for text records")

    # -- loading -------------------------------------------------------------------------------
    def _load_labels(self, filename: str, key_col: str, label_col: str, extra: str | None = None) -> dict[str, tuple[str, str, str | None]]:
        """utterance → (label, name as written, extra column) from one CSV; bad rows are problems."""
        path = self.root / filename
        out: dict[str, tuple[str, str, str | None]] = {}
        if not path.exists():
            return out
        for line, row in _read_csv(path):
            where = f"{path}:{line}"
            name, raw_label = row.get(key_col), row.get(label_col)
            if not name or raw_label is None:
                self.problem(where, f"malformed row: expected columns {key_col!r} and {label_col!r}")
                continue
            try:
                utt = parse_utterance(name)["utterance"]
            except ValueError as exc:
                self.problem(where, f"malformed row: {exc}")
                continue
            try:
                label = normalize_label(raw_label)
            except UnknownLabelError:
                self.problem(where, f"unknown label: {raw_label!r} is not one of {', '.join(get_taxonomy(TAXONOMY).names)}")
                continue
            if utt in out:
                self.problem(where, f"duplicate row: utterance {utt} already listed")
                continue
            out[utt] = (label, name, row.get(extra) if extra else None)
        return out

    def records(self, split: str | None = None) -> Iterator[Record]:
        """Records of one split (``train``/``val``/``test``) or of all (None)."""
        _check_split(split)
        return self._count(self._records(split))

    def _records(self, split: str | None) -> Iterator[Record]:
        # Transcripts are loaded for every modality: speech and video records carry them too.
        text = self._load_labels("transcription.csv", "name", "emotion", extra="chinese")
        per_modality = {
            "text": text,
            "audio": self._load_labels("audio.csv", "file_name", "emotion"),
            "video": self._load_labels("video.csv", "file_name", "emotion"),
        }
        for utt, main, where in self._main_rows():
            utt_split = main["split"]
            if split is not None and utt_split != split:
                continue
            yield from self._build(utt, main, per_modality, where)

    def _main_rows(self) -> Iterator[tuple[str, dict[str, Any], str]]:
        """(utterance, {label, split, sentiment}, where) from splits.csv, else mm.csv + the group rule."""
        splits_csv = self.root / "splits.csv"
        seen: set[str] = set()
        if splits_csv.exists():
            for line, row in _read_csv(splits_csv):
                where = f"{splits_csv}:{line}"
                try:
                    utt = parse_utterance(row.get("utterance") or "")["utterance"]
                    split = (row.get("split") or "").strip()
                    if split not in SPLITS:
                        raise ValueError(f"split {split!r} is not one of {SPLITS}")
                    raw_sent = (row.get("sentiment_mm") or "").strip()
                    sentiment = float(raw_sent) if raw_sent else None
                    if sentiment is not None and not -2.0 <= sentiment <= 2.0:
                        raise ValueError(f"sentiment {sentiment} outside -2..2")
                except ValueError as exc:
                    self.problem(where, f"malformed row: {exc}")
                    continue
                raw_label = row.get("emotion_mm") or ""
                try:
                    label = normalize_label(raw_label)
                except UnknownLabelError:
                    self.problem(where, f"unknown label: {raw_label!r} is not one of {', '.join(get_taxonomy(TAXONOMY).names)}")
                    continue
                if utt in seen:
                    self.problem(where, f"duplicate row: utterance {utt} already listed")
                    continue
                seen.add(utt)
                yield utt, {"label": label, "split": split, "sentiment": sentiment}, where
            return
        mm_csv = self.root / "mm.csv"
        for utt, (label, _name, _) in self._load_labels("mm.csv", "file_name", "emotion").items():
            yield utt, {"label": label, "split": official_split(utt), "sentiment": None}, str(mm_csv)

    def _build(self, utt: str, main: dict[str, Any], per_modality: dict[str, dict], where: str) -> Iterator[Record]:
        parts = parse_utterance(utt)
        labels = {TAXONOMY: main["label"]}
        for key, table in per_modality.items():
            if utt in table:
                labels[MODALITY_KEYS[key]] = table[utt][0]
        sentiment = main["sentiment"]
        if sentiment is not None:
            labels[SENTIMENT_TAXONOMY] = sentiment_level(sentiment)
        meta: dict[str, Any] = {
            "utterance": utt,
            "recording_group": parts["recording_group"],
            "dialogue": parts["dialogue"],
            "speaker": parts["speaker"],
            "index": parts["index"],
            "sentiment": sentiment,
        }
        text = None
        if utt in per_modality["text"]:
            raw = per_modality["text"][utt][2] or ""
            text, events = clean_transcript(raw)
            meta["transcript_raw"] = raw
            meta["events"] = events
        audio_rel = per_modality["audio"][utt][1] if utt in per_modality["audio"] else relative_media_path(utt, ".wav")
        video_rel = per_modality["video"][utt][1] if utt in per_modality["video"] else relative_media_path(utt, ".mp4")
        meta["audio_file"], meta["video_file"] = audio_rel, video_rel
        several = len(self.modalities) > 1
        for modality in self.modalities:
            rid = f"{utt}:{modality}" if several else utt
            path: str | None = None
            if modality == "text":
                if text is None:
                    self.problem(where, f"missing transcript: {utt} is not in transcription.csv")
                    continue
            else:
                rel = audio_rel if modality == "speech" else video_rel
                found = self._find_media(rel, "Audio/wav" if modality == "speech" else "Multimodal/mp4")
                if found is None and self.require_media:
                    self.problem(where, f"missing media: no {modality} file {rel} under {self.media_root}")
                    continue
                path = str(found) if found is not None else (str(self.media_root / rel) if self.media_root else rel)
            yield Record(
                id=rid, modality=modality, source=self.name, path=path, text=text, labels=dict(labels),
                valence=None if sentiment is None else sentiment / 2.0, split=main["split"],
                group=f"speaker{parts['speaker']}", meta=dict(meta),
            )

    def _find_media(self, rel: str, release_dir: str) -> Path | None:
        if self.media_root is None:
            return None
        for candidate in (self.media_root / release_dir / rel, self.media_root / rel):
            if candidate.is_file():
                return candidate
        return None


# --------------------------------------------------------------------------------------------
# release tar archives
# --------------------------------------------------------------------------------------------
_ARCHIVE_MODALITIES = {"audio": "audio", "text": "text", "video": "video", "multimodal": "multimodal"}
_AUDIO_SUFFIXES = {".wav", ".flac"}
_VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov"}


def unsafe_member_reason(member: tarfile.TarInfo) -> str | None:
    """Why a tar member must not be read (absolute path, ``..``, a link leaving the archive, a device), or None.

    >>> unsafe_member_reason(tarfile.TarInfo("../etc/passwd"))
    "path escapes the archive root ('..' component)"
    """
    name = member.name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in PurePosixPath(name).parts:
        return "path escapes the archive root ('..' component)"
    if member.issym() or member.islnk():
        link = member.linkname.replace("\\", "/")
        if link.startswith("/") or re.match(r"^[A-Za-z]:", link):
            return f"link to an absolute path ({member.linkname})"
        target = posixpath.normpath(posixpath.join(posixpath.dirname(name), link) if member.issym() else link)
        if target == ".." or target.startswith("../"):
            return f"link points outside the archive ({member.linkname})"
    if member.ischr() or member.isblk() or member.isfifo():
        return "device or fifo member"
    return None


class EmotionTalkReleaseSource(Source):
    """The BAAI/Emotiontalk release: ``*.tar`` archives under ``root`` read in place.

    Options as `EmotionTalkSource` (``modality``), plus ``payload`` (default True: media bytes
    are read from the archive into ``Record.payload``). Labels come from each modality's JSON
    (``emotion_result``; when absent, the majority of the annotators in ``data``); sentiment from
    the multimodal JSON's ``Continuous label_result``. When no multimodal JSON is present (e.g.
    only ``Audio.tar`` and ``Text.tar`` were downloaded), ``emotiontalk7`` falls back to the
    record's own modality label and ``meta["label_source"]`` says so. The split comes from a
    ``splits.csv`` beside the archives if there is one, else from the official group rule.
    """

    name = "emotiontalk-release"
    taxonomy = TAXONOMY

    def __init__(
        self,
        root: str | Path,
        *,
        modality: str | Sequence[str] = "text",
        payload: bool = True,
        strict: bool = False,
    ) -> None:
        super().__init__(root, strict=strict)
        self.modalities = _parse_modalities(modality)
        self.load_payload = payload
        self.archives = sorted(self.root.rglob("*.tar")) if self.root.is_dir() else [self.root]
        if not self.archives:
            raise FileNotFoundError(
                f"emotiontalk-release: no .tar archives under {self.root} "
                "(expected Audio.tar, Text.tar, Video.tar, Multimodal.tar from BAAI/Emotiontalk)"
            )

    def records(self, split: str | None = None) -> Iterator[Record]:
        _check_split(split)
        return self._count(self._records(split))

    # -- indexing ------------------------------------------------------------------------------
    def _index(
        self, tars: dict[Path, tarfile.TarFile]
    ) -> tuple[dict[str, dict[str, tuple[Path, tarfile.TarInfo]]], dict[str, dict[str, tuple[Path, tarfile.TarInfo]]]]:
        """(annotations[modality][utt], media[audio|video][utt]) → (archive, member)."""
        ann: dict[str, dict[str, tuple[Path, tarfile.TarInfo]]] = {m: {} for m in _ARCHIVE_MODALITIES.values()}
        media: dict[str, dict[str, tuple[Path, tarfile.TarInfo]]] = {"audio": {}, "video": {}}
        for archive in self.archives:
            try:
                tf = tarfile.open(archive, "r:*")
            except (tarfile.TarError, OSError) as exc:
                self.problem(archive, f"unreadable archive: {exc}")
                continue
            tars[archive] = tf
            for member in tf.getmembers():
                where = f"{archive}!{member.name}"
                reason = unsafe_member_reason(member)
                if reason is not None:
                    self.problem(where, f"unsafe tar member: {reason}")
                    continue
                if member.isdir() or not (member.isfile() or member.issym() or member.islnk()):
                    continue
                p = PurePosixPath(member.name.replace("\\", "/"))
                stem, suffix = p.stem, p.suffix.lower()
                if not UTTERANCE_RE.match(stem):
                    continue
                modality = next((_ARCHIVE_MODALITIES[x.lower()] for x in p.parts if x.lower() in _ARCHIVE_MODALITIES), None)
                if modality is None:
                    modality = _ARCHIVE_MODALITIES.get(archive.stem.lower())
                if suffix == ".json" and modality is not None:
                    ann[modality].setdefault(stem, (archive, member))
                elif suffix in _AUDIO_SUFFIXES:
                    media["audio"].setdefault(stem, (archive, member))
                elif suffix in _VIDEO_SUFFIXES:
                    # The multimodal (face + voice) clip is the video the labels were given on.
                    if modality == "multimodal" or stem not in media["video"]:
                        media["video"][stem] = (archive, member)
        return ann, media

    def _read(self, tars: dict[Path, tarfile.TarFile], entry: tuple[Path, tarfile.TarInfo]) -> bytes:
        archive, member = entry
        try:
            fh = tars[archive].extractfile(member)
        except KeyError as exc:  # a link whose target is not in the archive
            raise BadInputError(f"{archive}!{member.name}: {exc.args[0]}") from None
        if fh is None:
            raise BadInputError(f"{archive}!{member.name}: not a regular file")
        with fh:
            return fh.read()

    def _annotation(self, tars: dict, entry: tuple[Path, tarfile.TarInfo]) -> dict[str, Any] | None:
        archive, member = entry
        where = f"{archive}!{member.name}"
        try:
            obj = json.loads(self._read(tars, entry).decode("utf-8-sig"))
        except BadInputError as exc:
            self.problem(where, f"unreadable member: {exc}")
            return None
        except (ValueError, UnicodeDecodeError, tarfile.TarError, OSError) as exc:
            self.problem(where, f"malformed annotation: {exc}")
            return None
        if not isinstance(obj, dict):
            self.problem(where, "malformed annotation: expected a JSON object")
            return None
        out: dict[str, Any] = {"where": where, "speaker_id": obj.get("speaker_id"), "content": obj.get("content")}
        raw = obj.get("emotion_result")
        if raw in (None, ""):
            votes = [d.get("emotion_result") or d.get("emotion") for d in obj.get("data") or [] if isinstance(d, dict)]
            votes = [v for v in votes if isinstance(v, str) and v]
            raw = Counter(votes).most_common(1)[0][0] if votes else None
        if raw is not None:
            try:
                out["label"] = normalize_label(raw)
            except UnknownLabelError:
                self.problem(where, f"unknown label: {raw!r} is not one of {', '.join(get_taxonomy(TAXONOMY).names)}")
                return None
        cont = obj.get("Continuous label_result", obj.get("continuous_label_result"))
        if cont not in (None, ""):
            try:
                values = [float(v) for v in cont] if isinstance(cont, list) else [float(cont)]
                out["sentiment"] = sum(values) / len(values)
                if not -2.0 <= out["sentiment"] <= 2.0:
                    raise ValueError(f"{out['sentiment']} outside -2..2")
            except (TypeError, ValueError, ZeroDivisionError) as exc:
                self.problem(where, f"malformed annotation: Continuous label_result {cont!r} ({exc})")
                out.pop("sentiment", None)
        return out

    def _splits_override(self) -> dict[str, str]:
        path = self.root / "splits.csv" if self.root.is_dir() else None
        if path is None or not path.exists():
            return {}
        out = {}
        for line, row in _read_csv(path):
            utt, split = row.get("utterance"), (row.get("split") or "").strip()
            if not utt or split not in SPLITS:
                self.problem(f"{path}:{line}", f"malformed row: expected utterance and split in {SPLITS}")
                continue
            out[utt] = split
        return out

    def _records(self, split: str | None) -> Iterator[Record]:
        tars: dict[Path, tarfile.TarFile] = {}
        try:
            ann, media = self._index(tars)
            overrides = self._splits_override()
            utterances = sorted(set().union(*ann.values(), *media.values()))
            several = len(self.modalities) > 1
            for utt in utterances:
                utt_split = overrides.get(utt) or official_split(utt)
                if split is not None and utt_split != split:
                    continue
                parsed = {m: self._annotation(tars, ann[m][utt]) for m in ann if utt in ann[m]}
                if parsed and all(a is None for a in parsed.values()):
                    continue  # every annotation of it was bad, and each is already reported
                parsed = {m: a for m, a in parsed.items() if a is not None}
                yield from self._build(tars, utt, utt_split, parsed, media, several)
        finally:
            for tf in tars.values():
                tf.close()

    def _build(self, tars, utt: str, utt_split: str, parsed: dict[str, dict], media: dict, several: bool) -> Iterator[Record]:
        parts = parse_utterance(utt)
        labels: dict[str, str] = {}
        for m in ("text", "audio", "video"):
            if "label" in parsed.get(m, {}):
                labels[MODALITY_KEYS[m]] = parsed[m]["label"]
        mm = parsed.get("multimodal", {})
        sentiment = mm.get("sentiment")
        if sentiment is not None:
            labels[SENTIMENT_TAXONOMY] = sentiment_level(sentiment)
        content = next((parsed[m]["content"] for m in ("text", "audio") if isinstance(parsed.get(m, {}).get("content"), str)), None)
        meta: dict[str, Any] = {
            "utterance": utt, "recording_group": parts["recording_group"], "dialogue": parts["dialogue"],
            "speaker": parts["speaker"], "index": parts["index"], "sentiment": sentiment,
            "speaker_id": next((a.get("speaker_id") for a in parsed.values() if a.get("speaker_id") is not None), None),
        }
        text = None
        if content is not None:
            text, events = clean_transcript(content)
            meta["transcript_raw"], meta["events"] = content, events
        where = next((a["where"] for a in parsed.values()), f"{utt}")
        own_key = {"text": "text", "speech": "audio", "video": "video"}
        for modality in self.modalities:
            rid = f"{utt}:{modality}" if several else utt
            rec_labels = dict(labels)
            rec_meta = dict(meta)
            if "label" in mm:
                rec_labels[TAXONOMY] = mm["label"]
                rec_meta["label_source"] = "multimodal"
            elif MODALITY_KEYS[own_key[modality]] in labels:
                rec_labels[TAXONOMY] = labels[MODALITY_KEYS[own_key[modality]]]
                rec_meta["label_source"] = own_key[modality]
            else:
                self.problem(where, f"missing label: no multimodal or {own_key[modality]} annotation for {utt}")
                continue
            payload = None
            if modality == "text":
                if text is None:
                    self.problem(where, f"missing transcript: no text content for {utt}")
                    continue
            else:
                entry = media["audio" if modality == "speech" else "video"].get(utt)
                if entry is None:
                    self.problem(where, f"missing media: no {modality} member for {utt} in {', '.join(a.name for a in self.archives)}")
                    continue
                rec_meta["archive"], rec_meta["member"] = str(entry[0]), entry[1].name
                if self.load_payload:
                    try:
                        payload = self._read(tars, entry)
                    except (BadInputError, tarfile.TarError, OSError) as exc:
                        self.problem(f"{entry[0]}!{entry[1].name}", f"unreadable member: {exc}")
                        continue
                    if not payload:
                        self.problem(f"{entry[0]}!{entry[1].name}", "missing media: empty member")
                        continue
            yield Record(
                id=rid, modality=modality, source=self.name, text=text, payload=payload, labels=rec_labels,
                valence=None if sentiment is None else sentiment / 2.0, split=utt_split,
                group=f"speaker{parts['speaker']}", meta=rec_meta,
            )


__all__ = [
    "EmotionTalkReleaseSource", "EmotionTalkSource", "OFFICIAL_SPLIT_GROUPS", "clean_transcript", "normalize_label",
    "official_split", "parse_utterance", "relative_media_path", "sentiment_level", "unsafe_member_reason",
]
