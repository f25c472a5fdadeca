"""The networks and the functional core they share.

    functional.py   AdaIN, feature statistics, colour transforms: pure tensor functions
    layers.py       conv/pool building blocks with the paddings the weight sources expect
    encoders.py     the VGG encoders, their taps and input normalisation
    pretrained.py   each encoder's published weights, their conversion, `build_encoder`
    decoder.py      the decoder, and reading/writing decoder files
    skip_inputs.py  skip connections from AdaIN-normalised encoder taps, folded for inference
    model.py        encoder + AdaIN + decoder, and the one builder of the decoder's inputs
    losses/         every loss and feature distance
    weights.py      weight files: safetensors/torch reading, sha256 pins, the cache folder
"""
