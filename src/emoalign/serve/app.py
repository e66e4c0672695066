"""The emoalign web service: an HTTP API and the web page, in one FastAPI app.

Endpoints (OpenAPI at ``/docs``, schema at ``/openapi.json``):

=======  ================================  ======================================================
POST     /api/analyze                      an uploaded file (``file``): its emotion, the fields
                                           of ``emoalign analyze --json``
POST     /api/analyze/text                 ``{"text": ...}``: the same, for a text
POST     /api/analyze/speech               several speech clips (``files``) with optional
                                           ``speakers`` (one per file): speaker-adapted results
POST     /api/analyze/dialogue             ``{"turns": [{dialogue, speaker, text, id}], "context"}``:
                                           each turn read in its dialogue, in order
POST     /api/match                        an image or music clip (``file``): best matches from
                                           the index, the fields of ``emoalign match --json``
GET      /api/taxonomies[/{name}]          taxonomies and their labels' valence–arousal points
GET      /api/health, /api/version         liveness, loaded encoders and index, limits; version
GET      /api/media/{path}                 an index item's file (only inside the index media root)
GET      /                                 the web page (``serve/static``; no external assets)
=======  ================================  ======================================================

Models load once, in `create_app`; each encoder is serialised by its own lock
(`emoalign.serve.locks`) while FastAPI's thread pool runs requests concurrently.

>>> from fastapi.testclient import TestClient
>>> app = create_app(preload=("text-use",))  # doctest: +SKIP
>>> TestClient(app).post("/api/analyze/text", json={"text": "What a lovely day"}).json()["label"]  # doctest: +SKIP
'joy'
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint annotations at runtime,
# and some refer to this call's configuration (e.g. the `top` bound).

import logging
from dataclasses import asdict, dataclass
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Optional, Sequence

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from emoalign import __version__
from emoalign.encode.registry import DEFAULTS
from emoalign.errors import DecodeError
from emoalign.media.decode import sniff_mime
from emoalign.serve import locks
from emoalign.serve.hygiene import HostAllowList, release_memory
from emoalign.serve.limits import BodyLimit
from emoalign.serve.media import MediaNotFound
from emoalign.serve.schemas import AnalyzeBatch, AnalyzeResult, DialogueIn, Health, MatchResponse, Problem, TaxonomyDetail, TaxonomySummary, Version
from emoalign.serve.uploads import UploadError, check_decodes, check_modality, check_size, clean_name, kind_of, plain_words, tidy_message
from emoalign.serve.warmup import warm_up

log = logging.getLogger("emoalign.serve")

#: Encoders loaded at startup: the offline default of every modality the page and API accept.
DEFAULT_PRELOAD: tuple[str, ...] = tuple(dict.fromkeys(DEFAULTS[m] for m in ("text", "image", "music", "speech", "face", "video")))

#: Content-Security-Policy of every response: the page may load nothing from anywhere else.
CSP = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; "
       "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


@dataclass(frozen=True)
class ServeConfig:
    """Limits of the service (all configurable from `create_app` and ``emoalign serve``)."""

    #: Largest accepted upload, in bytes (413 above it).
    max_upload_bytes: int = 25 * 1024 * 1024
    #: Longest accepted text, in characters (422 above it).
    max_text_chars: int = 5000
    #: Most matches one request may ask for.
    max_top: int = 50
    #: Most files in one batch request (/api/analyze/speech).
    max_batch: int = 200
    #: Seconds a request body may take to arrive (408 after it).
    body_timeout: float = 60.0
    #: Host names the service answers to (400 for others: DNS rebinding). None: no check — what
    #: in-process use and tests want; ``emoalign serve`` passes loopback names (and --allowed-host).
    allowed_hosts: Optional[tuple[str, ...]] = None


class Modality(str, Enum):
    """What to read a file as (texts go to /api/analyze/text)."""

    auto = "auto"
    speech = "speech"
    music = "music"
    image = "image"
    face = "face"
    video = "video"


class FaceMode(str, Enum):
    """How a face image is read (`emoalign.encode.face`): whole image as a crop, detected faces only, or auto."""

    auto = "auto"
    crop = "crop"
    detect = "detect"


#: Error answers of the upload endpoints (400: a malformed multipart body or Content-Length).
_ERRORS = {code: {"model": Problem} for code in (400, 413, 415, 422, 503)}


def create_app(
    index_dir: str | Path | None = None,
    *,
    config: ServeConfig | None = None,
    preload: Sequence[str] | None = None,
    matcher: Any = None,
    warm: bool = True,
) -> FastAPI:
    """Build the app: load the encoders (once) and the index, if one is given.

    ``index_dir`` is a folder written by ``emoalign index build``; without it (and without a
    ready ``matcher``) the match endpoint answers 503. ``preload`` lists the encoders to load
    now (default: `DEFAULT_PRELOAD`); an encoder that fails to load is reported by /api/health
    and its modality answers 503 with the reason. With ``warm`` each encoder also runs once on a
    small generated input (`emoalign.serve.warmup`), so models load now, not in the first request.
    """
    cfg = config or ServeConfig()
    if matcher is None and index_dir is not None:
        from emoalign.serve.matching import IndexMatcher

        matcher = IndexMatcher(index_dir)  # first: a bad index fails before minutes of model loading
    loaded: list[str] = []
    unavailable: dict[str, str] = {}
    names = list(DEFAULT_PRELOAD if preload is None else preload) + list(matcher.encoders if matcher is not None else [])
    for name in dict.fromkeys(names):
        try:
            encoder = locks.serialise(name)
            if warm:
                warm_up(encoder)
            loaded.append(name)
        except Exception as exc:  # an optional dependency missing, a model file unreadable
            unavailable[name] = f"{type(exc).__name__}: {exc}"
            log.warning("encoder %s unavailable: %s", name, unavailable[name])

    app = FastAPI(
        title="emoalign",
        version=__version__,
        docs_url=None,  # served below from local files: FastAPI's own /docs loads Swagger UI from a CDN
        redoc_url=None,
        description="Emotion analysis of images, music, speech, faces, video and text, and emotion-aware "
                    "music–image matching. The web page is at `/`.",
    )
    app.state.config = cfg
    app.state.matcher = matcher
    app.state.encoders = loaded
    app.state.unavailable = unavailable
    # Upload limit plus room for the multipart envelope and the small form fields.
    app.add_middleware(BodyLimit, max_bytes=cfg.max_upload_bytes + 64 * 1024, body_timeout=cfg.body_timeout)
    if cfg.allowed_hosts is not None:
        app.add_middleware(HostAllowList, hosts=cfg.allowed_hosts)  # outermost: checked first

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        # One readable sentence in `detail` (what the page shows), the structured list in `errors`.
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": str(e.get("type"))} for e in exc.errors()]
        text = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}" for e in errors)
        return JSONResponse({"detail": text or "invalid request", "errors": errors}, status_code=422)

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, exc: UploadError):
        return JSONResponse({"detail": plain_words(str(exc))}, status_code=exc.status)

    # ---------------------------------------------------------------------------------- API
    class TextIn(BaseModel):
        text: str = Field(min_length=1, max_length=cfg.max_text_chars, pattern=r"\S",
                          description="The text to analyse (any language the text encoder reads).",
                          examples=["What a wonderful surprise!"])

    @app.post("/api/analyze", response_model=AnalyzeResult, responses=_ERRORS, tags=["analysis"],
              summary="The emotion of an uploaded image, audio or video file")
    def analyze_endpoint(
        file: Annotated[UploadFile, File(description="An image, audio or video file; its type is read from the content, not the name.")],
        modality: Annotated[Modality, Form(description="Force a modality; `auto` detects it from the content.")] = Modality.auto,
        face_mode: Annotated[FaceMode, Form(description=(
            "Faces: `crop` classifies the whole image as a face crop, `detect` only detected faces; `auto` detects and, "
            "for an image of at most 256 px with aspect 0.75–1.33, falls back to the whole image. `crop`/`detect` "
            "send images to the face encoder; `details.basis` says what the result is based on."))] = FaceMode.auto,
    ) -> dict[str, Any]:
        try:
            return _analyze_upload(file, modality, face_mode)
        finally:
            release_memory()  # decoded media are large: give their pages back to the system

    def _analyze_upload(file: UploadFile, modality: Modality, face_mode: FaceMode) -> dict[str, Any]:
        from emoalign.encode.analyze import analyze, detect_modality, image_modality

        data = _read_upload(file, cfg.max_upload_bytes)
        name = clean_name(file.filename)
        kind = kind_of(data)
        check_modality(kind, modality.value)
        check_decodes(data, kind, name)
        if modality != Modality.auto:
            m = modality.value
        elif kind == "audio":
            try:
                m = detect_modality(data)
            except DecodeError as exc:
                raise UploadError(422, _named(str(exc), data, name)) from None
        elif kind == "image":
            m = image_modality(data, face_mode.value)
        else:
            m = kind
        _require_encoder(DEFAULTS[m])
        row = analyze([data], modality=m, names=[name], face_mode=face_mode.value)[0]
        if row["error"]:
            raise UploadError(422, _named(row["error"], data, name))
        return row

    @app.post("/api/analyze/text", response_model=AnalyzeResult, responses=_ERRORS, tags=["analysis"],
              summary="The emotion of a text")
    def analyze_text_endpoint(body: TextIn) -> dict[str, Any]:
        from emoalign.encode.analyze import analyze

        _require_encoder(DEFAULTS["text"])
        row = analyze(texts=[body.text])[0]
        if row["error"]:
            raise UploadError(422, row["error"])
        return row

    @app.post("/api/analyze/speech", response_model=AnalyzeBatch, responses=_ERRORS, tags=["analysis"],
              summary="The emotion of several speech clips, adapted to each speaker")
    def analyze_speech_endpoint(
        files: Annotated[list[UploadFile], File(description="Speech clips (audio or video files).")],
        speakers: Annotated[Optional[list[str]], Form(description=(
            "One speaker id per file, in the same order (empty: unknown). Each speaker's clips are normalised with "
            "the statistics of that speaker's clips in this request; a speaker with too few clips falls back to "
            "the per-clip head (`details.speaker_norm`)."))] = None,
    ) -> dict[str, Any]:
        from emoalign.encode.analyze import analyze

        if len(files) > cfg.max_batch:
            raise UploadError(422, f"{len(files)} files; at most {cfg.max_batch} per request")
        if speakers is not None and len(speakers) != len(files):
            raise UploadError(422, f"{len(speakers)} speakers for {len(files)} files: give one per file (empty for unknown)")
        # the body limit (BodyLimit) caps the whole request, so the files of a batch share max_upload_bytes
        datas = [_read_upload(f, cfg.max_upload_bytes) for f in files]
        names = [clean_name(f.filename) for f in files]
        _require_encoder(DEFAULTS["speech"])
        ids = None if speakers is None else [s.strip() or None for s in speakers]
        try:
            rows = analyze(datas, modality="speech", names=names, speaker_ids=ids)
        finally:
            release_memory()  # decoded media are large: give their pages back to the system
        for row, data, name in zip(rows, datas, names):
            if row["error"]:
                row["error"] = _named(row["error"], data, name)
        return {"results": rows, "failed": sum(1 for r in rows if r["error"])}

    @app.post("/api/analyze/dialogue", response_model=AnalyzeBatch, responses=_ERRORS, tags=["analysis"],
              summary="The emotion of each turn of one or more dialogues, read in context")
    def analyze_dialogue_endpoint(body: DialogueIn) -> dict[str, Any]:
        from emoalign.data.dialogue_csv import parse_dialogue_rows
        from emoalign.encode.dialogue import analyze_dialogue
        from emoalign.errors import BadInputError

        _require_encoder(DEFAULTS["text"])
        try:
            turns = parse_dialogue_rows([t.model_dump() for t in body.turns], ["dialogue", "speaker", "text", "id"],
                                        where="turns")
        except BadInputError as exc:
            raise UploadError(422, str(exc)) from None
        rows = analyze_dialogue(turns, body.context)
        return {"results": rows, "failed": sum(1 for r in rows if r["error"])}

    @app.post("/api/match", response_model=MatchResponse, responses={**_ERRORS, 503: {"model": Problem}},
              tags=["matching"], summary="Best matches from the index for an image or a music clip")
    def match_endpoint(
        file: Annotated[UploadFile, File(description="An image (finds music) or a music clip (finds images).")],
        top: Annotated[int, Form(ge=1, le=cfg.max_top, description="How many matches.")] = 10,
        alpha: Annotated[
            Optional[float], Form(ge=0.0, le=1.0, description="Weight of the semantic score against the emotional one (index default if absent).")
        ] = None,
        emotion: Annotated[Optional[str], Form(max_length=64, description="Only items with this emotion label.")] = None,
    ) -> dict[str, Any]:
        m = app.state.matcher
        if m is None:
            raise UploadError(503, "no index is loaded: start the service with --index DIR (or without it, to use the example index)")
        try:
            data = _read_upload(file, cfg.max_upload_bytes)
            kind = kind_of(data, ("image", "audio"), purpose="matching")
            check_decodes(data, kind, clean_name(file.filename))
            for name in m.encoders:
                _require_encoder(name)
            return m.match(data, kind=kind, name=clean_name(file.filename), top=top, alpha=alpha, emotion=emotion or None)
        finally:
            release_memory()

    @app.get("/api/media/{path:path}", tags=["matching"], summary="The file of an index item",
             responses={200: {"content": {"image/*": {}, "audio/*": {}}}, 404: {"model": Problem}, 422: {"model": Problem}})
    def media_endpoint(path: str) -> Response:
        m = app.state.matcher
        if m is None or m.media is None:
            raise HTTPException(404, "no media: no index is loaded")
        try:
            full = m.media.resolve(path)
        except MediaNotFound:
            raise HTTPException(404, "not a media file of the index") from None
        with open(full, "rb") as fh:
            mime = sniff_mime(fh.read(64)) or "application/octet-stream"
        return FileResponse(full, media_type=mime, headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/api/taxonomies", response_model=list[TaxonomySummary], tags=["affect"], summary="The emotion taxonomies")
    def taxonomies_endpoint() -> list[dict[str, Any]]:
        from emoalign.affect import get_taxonomy, list_taxonomies

        return [{"name": t.name, "title": t.title, "labels": len(t)} for t in map(get_taxonomy, list_taxonomies())]

    @app.get("/api/taxonomies/{name}", response_model=TaxonomyDetail, responses={404: {"model": Problem}, 422: {"model": Problem}},
             tags=["affect"], summary="A taxonomy's labels and their valence–arousal coordinates")
    def taxonomy_endpoint(name: str) -> dict[str, Any]:
        from emoalign.affect import get_taxonomy, list_taxonomies

        if name not in list_taxonomies():
            raise HTTPException(404, f"no taxonomy {name!r}; taxonomies: {', '.join(list_taxonomies())}")
        t = get_taxonomy(name)
        return {
            "name": t.name, "title": t.title, "citation": t.citation, "notes": t.notes,
            "labels": [{"name": l.name, "valence": l.valence, "arousal": l.arousal, "dominance": l.dominance,
                        "group": l.group, "code": l.code, "provenance": l.provenance} for l in t.labels],
        }

    @app.get("/api/health", response_model=Health, tags=["service"], summary="Liveness, loaded models and index, limits")
    def health_endpoint() -> dict[str, Any]:
        m = app.state.matcher
        return {"status": "ok", "version": __version__, "encoders": list(loaded),
                "index": None if m is None else m.describe(), "limits": {k: int(v) for k, v in asdict(cfg).items() if isinstance(v, (int, float))},
                "locks": {name: dict(v) for name, v in list(locks.STATS.items())}}

    @app.get("/api/version", response_model=Version, tags=["service"], summary="Name and version")
    def version_endpoint() -> dict[str, str]:
        return {"name": "emoalign", "version": __version__}

    # --------------------------------------------------------------------------------- page
    static = resources.files("emoalign.serve") / "static"

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(str(static / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    docs_assets = _swagger_ui_files()
    if docs_assets is not None:
        app.mount("/docs-assets", StaticFiles(directory=str(docs_assets)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        if docs_assets is None:
            return Response("The interactive API reference needs the 'fastapi-offline' package (Swagger UI's files); "
                            "the OpenAPI schema is at /openapi.json.\n", media_type="text/plain")
        response = FileResponse(str(static / "docs.html"), media_type="text/html")
        # Swagger UI sets inline styles; the rest of the policy stays as strict as the page's.
        response.headers["Content-Security-Policy"] = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
        return response

    def _require_encoder(name: str) -> None:
        if name in unavailable:
            raise UploadError(503, f"encoder {name!r} is not available on this server: {unavailable[name]}")

    return app


def _swagger_ui_files() -> Path | None:
    """Swagger UI's JS/CSS as shipped in the ``fastapi-offline`` package (None if it is not installed)."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    folder = Path(fastapi_offline.__file__).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def _read_upload(file: UploadFile, limit: int) -> bytes:
    """The upload's bytes, reading at most ``limit + 1`` (413 above the limit, 422 if empty)."""
    file.file.seek(0)
    data = file.file.read(limit + 1)
    check_size(data, limit, what=f"upload {clean_name(file.filename)!r}")
    return data


def _named(message: str, data: bytes, name: str | None) -> str:
    """An encoder message with the anonymous ``<N bytes>`` replaced by the upload's name."""
    return tidy_message(message, data, name or "upload")
