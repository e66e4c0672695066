"""emoalign: multimodal emotion understanding and emotion-aware music–image matching.

Every input, whatever its modality, lands in one affect space (a distribution over a named
taxonomy plus a valence–arousal point) and, where a model allows, in a semantic embedding
space.

>>> import emoalign
>>> emoalign.analyze(emoalign.Text("I can't stop smiling today")).modality
'text'

The API (`emoalign.api`): `analyze`, `analyze_dialogue`, `load_source`, `get_encoder`, `build_pairs`,
`build_matching`, `Index`; inputs `Audio`, `Image`, `Text` (or a path, or bytes); every error
raised on purpose derives from `EmoalignError`. Taxonomies: `emoalign.affect`.
"""

from emoalign.api import Analysis, Audio, Image, Index, Text, analyze, analyze_dialogue, build_matching, build_pairs, get_encoder, load_source
from emoalign.errors import BadInputError, DecodeError, EmoalignError, QueryError, SpaceMismatchError
from emoalign.progress import disable_progress_bars, enable_progress_bars

__version__ = "0.1.0"

__all__ = [
    "Analysis", "Audio", "BadInputError", "DecodeError", "EmoalignError", "Image", "Index", "QueryError",
    "SpaceMismatchError", "Text", "__version__", "analyze", "analyze_dialogue", "build_matching", "build_pairs", "disable_progress_bars",
    "enable_progress_bars", "get_encoder", "load_source",
]
