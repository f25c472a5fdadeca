"""Every loss and feature distance, in one place.

    distances.py  scale-free content and style distances per image (design.md's numbers): the
                  evaluation's measures and the definitions the training losses average
    training.py   the decoder's training terms (AdaIN: content, style statistics, colour,
                  structure, sliced Wasserstein, identity) and Johnson's (feature, Gram, TV)
    gatys.py      the terms Gatys et al. optimise (relative content, masked Gram, TV)
"""
