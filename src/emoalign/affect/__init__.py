"""The affect space: taxonomies as data, label coordinates with provenance, mapping between them.

>>> from emoalign.affect import get_taxonomy, map_distribution
>>> sorted(map_distribution({"happy": 1.0}, "emotiontalk7", "fer7").items(), key=lambda kv: -kv[1])[0][0]
'happy'
"""

from emoalign.affect.lexicon import Lexicon, linear_to_unit, load_nrc_vad, warriner_subset
from emoalign.affect.space import (
    affect_from_probs,
    category_from,
    expected_va,
    map_distribution,
    mapping_matrix,
    nearest_label,
    probs_vector,
    va_cosine,
    va_distance,
    va_to_distribution,
    va_weights,
)
from emoalign.affect.taxonomy import Label, Taxonomy, UnknownLabelError, get_taxonomy, list_taxonomies

__all__ = [
    "Label", "Lexicon", "Taxonomy", "UnknownLabelError", "affect_from_probs", "category_from", "expected_va",
    "get_taxonomy", "linear_to_unit", "list_taxonomies", "load_nrc_vad", "map_distribution",
    "mapping_matrix", "nearest_label", "probs_vector", "va_cosine", "va_distance",
    "va_to_distribution", "va_weights", "warriner_subset",
]
