"""Response models of the HTTP API (they document the OpenAPI schema at /docs and /openapi.json)."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field


class AnalyzeResult(BaseModel):
    """One input's analysis: the same fields as ``emoalign analyze --json``."""

    model_config = ConfigDict(extra="allow")

    input: str = Field(description="The upload's file name, or the text (shortened to 80 characters).")
    modality: Optional[str] = Field(description="speech, music, image, face, text or video (detected from the content unless forced).")
    encoder: Optional[str] = Field(description="Registry name of the encoder that read it.")
    taxonomy: Optional[str] = Field(description="The taxonomy of `label` and `probs`.")
    label: Optional[str] = Field(description="Most probable emotion.")
    confidence: Optional[float] = Field(description="Probability of `label`.")
    probs: Optional[dict[str, float]] = Field(description="Probability of every label of the taxonomy.")
    valence: Optional[float] = Field(description="Valence in [-1, 1].")
    arousal: Optional[float] = Field(description="Arousal in [-1, 1].")
    dominance: Optional[float] = None
    error: Optional[str] = Field(description="Why this input failed (null when it did not).")
    details: Optional[dict[str, Any]] = Field(description="Encoder-specific extras (face boxes, cues, segments, ...).")


class AnalyzeBatch(BaseModel):
    """The results of a batch (speech clips with speaker grouping, or the turns of dialogues), in input order."""

    results: list[AnalyzeResult] = Field(description="One result per input, in the order given.")
    failed: int = Field(description="How many inputs failed (their `error` says why).")


class DialogueTurnIn(BaseModel):
    """One turn of a dialogue, as a row of ``emoalign analyze --dialogue FILE.csv``."""

    dialogue: str = Field(min_length=1, max_length=200, pattern=r"\S", description="The dialogue the turn belongs to.")
    speaker: str = Field(min_length=1, max_length=200, pattern=r"\S", description="Who speaks (context is read from a speaker's own turns).")
    text: str = Field(max_length=5000, description="What is said (an empty text gets its own error).")
    id: Optional[str] = Field(default=None, max_length=200, description="Your id of the turn (default `<dialogue>:<n>`).")


class DialogueIn(BaseModel):
    """Turns in the order spoken, and how much of the dialogue each turn is read with."""

    turns: list[DialogueTurnIn] = Field(min_length=1, max_length=5000, description="Turns in the order spoken.")
    context: str = Field(default="preceding", pattern="^(preceding|dialogue|none)$",
                         description="`preceding`: the speaker's earlier turns (never looks ahead); `dialogue`: all of "
                                     "the speaker's other turns; `none`: each turn alone.")


class MatchQuery(BaseModel):
    """The query's own emotion, as ``emoalign match --json`` reports it."""

    model_config = ConfigDict(extra="allow")

    name: str
    modality: str = Field(description="'image' (finds music) or 'music' (finds images).")
    emotion: str
    confidence: float
    taxonomy: str
    valence: float
    arousal: float
    top_emotions: list[tuple[str, float]] = Field(description="The three most probable labels with their probabilities.")


class MatchHit(BaseModel):
    """One match and the reason for it."""

    model_config = ConfigDict(extra="allow")

    rank: int
    id: str
    modality: str
    path: Optional[str] = Field(description="The item's file, relative to the index's media root.")
    similarity: float = Field(description="Raw similarity in the index's space (cosine, or the adapter's score).")
    semantic: float = Field(description="S: softmax of the similarities over the candidates, relative to the best (0..1].")
    emotional: float = Field(description="E: (1 + cosine of the two valence–arousal points) / 2.")
    total: float = Field(description="T = alpha·S + (1 − alpha)·E, the ranking score.")
    emotion: Optional[str]
    taxonomy: Optional[str]
    valence: Optional[float]
    arousal: Optional[float]
    reason: str = Field(description="Both scores and both items' emotions, in words.")
    media_url: Optional[str] = Field(description="Where the page loads the item's image or audio (this server only).")


class MatchResponse(BaseModel):
    """The query's own analysis and its best matches: the fields of ``emoalign match --json``."""

    model_config = ConfigDict(extra="allow")

    query: MatchQuery
    results: list[MatchHit] = Field(description="Best first.")
    alpha: float
    temperature: float
    index: str = Field(description="The index folder's name.")
    space: str
    score_kind: str
    filters: dict[str, Optional[str]]


class Problem(BaseModel):
    """An error: ``detail`` says what is wrong; invalid fields are also listed in ``errors``."""

    detail: str
    errors: Optional[list[dict[str, Any]]] = None


class TaxonomyLabel(BaseModel):
    name: str
    valence: float
    arousal: float
    dominance: Optional[float]
    group: Optional[str]
    code: Optional[str]
    provenance: str


class TaxonomySummary(BaseModel):
    name: str
    title: str
    labels: int


class TaxonomyDetail(BaseModel):
    name: str
    title: str
    citation: str
    notes: str
    labels: list[TaxonomyLabel]


class Health(BaseModel):
    status: str = Field(description="'ok' when the service answers.")
    version: str
    encoders: list[str] = Field(description="Encoders loaded at startup (each serialised by its own lock).")
    index: Optional[dict[str, Any]] = Field(description="The loaded index (items, modalities, folder), or null if none.")
    limits: dict[str, int]
    locks: dict[str, dict[str, float]] = Field(description="Per encoder: calls, seconds waiting for its lock, seconds running.")


class Version(BaseModel):
    name: str
    version: str
