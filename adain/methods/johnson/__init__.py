"""Johnson et al. (2016): one feed-forward network per style, trained with Gram losses.

    network.py    the image transformation network (TransformerNet)
    stylizer.py   loading, saving and running a trained network behind the Stylizer interface
    objective.py  the training objective (content + Gram style + total variation)
"""

from adain.methods.johnson.stylizer import JohnsonStylizer, load_johnson, load_transformer, save_transformer

__all__ = ["JohnsonStylizer", "load_johnson", "load_transformer", "save_transformer"]
