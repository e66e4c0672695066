"""emoalign: multimodal emotion understanding and emotion-aware music–image matching.

Every input, whatever its modality, lands in one affect space (a distribution over a named
taxonomy plus a valence–arousal point) and, where a model allows, in a semantic embedding
space. See ``emoalign.affect`` for the former and ``emoalign.encode`` for both.

>>> from emoalign.affect import get_taxonomy
>>> get_taxonomy("mikels8").labels[0].name
'amusement'
"""

__version__ = "0.1.0"
