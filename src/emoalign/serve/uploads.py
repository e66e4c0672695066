"""Upload checks for the service: size (413), type by content (415), decodability (422).

Everything here works on bytes already in memory; nothing is written to disk under a name the
client chose. Each check raises `UploadError`, whose ``status`` is the HTTP status to answer with
and whose message says what is wrong in words a person can act on.

>>> kind_of(b"\\x89PNG\\r\\n\\x1a\\n....")
'image'
>>> try:
...     kind_of(b"%PDF-1.7")
... except UploadError as exc:
...     print(exc.status)
415
"""

from __future__ import annotations

import re

from emoalign.errors import DecodeError
from emoalign.media.decode import MAX_AUDIO_SECONDS, audio_info, image_info, sniff_kind

#: Which upload kinds each requested modality can read.
MODALITY_KINDS: dict[str, tuple[str, ...]] = {
    "image": ("image",),
    "face": ("image",),
    "music": ("audio",),
    "speech": ("audio",),
    "video": ("video",),
}

class UploadError(ValueError):
    """A request's upload is refused; ``status`` is the HTTP status (413, 415 or 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_size(data: bytes, limit: int, what: str = "upload") -> None:
    """413 when ``data`` is longer than ``limit`` bytes; 422 when it is empty."""
    if len(data) > limit:
        raise UploadError(413, f"{what} is {len(data):,} bytes; the limit is {limit:,} bytes")
    if not data:
        raise UploadError(422, f"{what} is empty")


def kind_of(data: bytes, allowed: tuple[str, ...] = ("image", "audio", "video"), *, purpose: str = "analysis") -> str:
    """'image', 'audio' or 'video' from the content (never the file name); 415 otherwise."""
    kind = sniff_kind(data[:64])
    if kind is None:
        raise UploadError(
            415,
            "unsupported file type: the content is not an image (PNG, JPEG, GIF, BMP, WebP), audio "
            "(WAV, FLAC, OGG, MP3, M4A) or video (MP4, WebM) file, whatever its name says",
        )
    if kind not in allowed:
        raise UploadError(415, f"this file is {_a(kind)} {kind}; {purpose} takes {' or '.join(_a(k) + ' ' + k for k in allowed)} file")
    return kind


def check_modality(kind: str, modality: str) -> None:
    """415 when the requested modality cannot read this kind of file (e.g. speech from a JPEG)."""
    if modality in ("auto", "text"):
        if modality == "text":
            raise UploadError(415, "modality 'text' takes the text field, not a file")
        return
    kinds = MODALITY_KINDS.get(modality)
    if kinds is not None and kind not in kinds:
        raise UploadError(415, f"modality {modality!r} needs {_a(kinds[0])} {kinds[0]} file; this upload is {_a(kind)} {kind}")


def check_decodes(data: bytes, kind: str, name: str = "upload") -> None:
    """422 with the decoder's message when a header is unreadable or announces a bomb — from the
    header alone (image size, audio length), without decoding: the encoder decodes each upload
    once, and its errors become 422 as well.
    """
    try:
        if kind == "image":
            image_info(data)
        elif kind == "audio":
            info = audio_info(data)
            if info.seconds is not None and info.seconds > MAX_AUDIO_SECONDS:
                raise DecodeError(f"<{len(data)} bytes>: {info.seconds:.0f} s of audio is longer than the "
                                  f"{MAX_AUDIO_SECONDS:.0f} s limit")
    except DecodeError as exc:
        raise UploadError(422, tidy_message(str(exc), data, name)) from None


def plain_words(message: str) -> str:
    """A message without Python exception class names (``DecodeError: x`` → ``x``).

    >>> plain_words("DecodeError: a.wav: audio is silent")
    'a.wav: audio is silent'
    """
    return re.sub(r"(^|(?<=[;(] ))(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Warning): ", "", message)


def tidy_message(message: str, data: bytes, name: str) -> str:
    """A decoder message about in-memory bytes, naming the upload instead (and no object addresses).

    >>> tidy_message("<3 bytes>: cannot decode image (cannot identify image file <_io.BytesIO object at 0x7f>)", b"abc", "a.png")
    'a.png: cannot decode image (cannot identify image file)'
    """
    message = message.replace(f"<{len(data)} bytes>", name)
    return re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-fA-F]+>", "", message)


def clean_name(name: str | None, fallback: str = "upload") -> str:
    """A display name for an upload: the base name only, printable, at most 80 characters."""
    if not name:
        return fallback
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return (base[:77] + "...") if len(base) > 80 else (base or fallback)


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
