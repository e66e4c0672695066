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


class MatchResponse(BaseModel):
    """The query's own analysis and its best matches: the fields of ``emoalign match --json``."""

    model_config = ConfigDict(extra="allow")

    query: dict[str, Any] = Field(description="The query item: its modality, emotion, valence and arousal.")
    results: list[dict[str, Any]] = Field(description="Hits, best first, each with its scores, emotion and a `media_url` for the page.")


class Problem(BaseModel):
    """An error: ``detail`` says what is wrong."""

    detail: str


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


class Version(BaseModel):
    name: str
    version: str
