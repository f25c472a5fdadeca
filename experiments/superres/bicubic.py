"""The floor for `--upscale N`: the same reduced stylisation, enlarged ×N by bicubic interpolation.

    python experiments/superres/bicubic.py CONTENT STYLE OUTPUT N

Mirrors adain.inference.superres.stylize (content reflected to a multiple of N, reduced by N, stylised with
the shipped decoder at the defaults) but enlarges with PIL's bicubic filter instead of a network.
"""

import sys

import numpy as np
from PIL import Image

import adain
from adain.core.io import open_image, save_image, tensor_to_pil
from adain.inference.superres.stylize import reduce_image

content_path, style_path, output, factor = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
content = open_image(content_path)
width, height = content.size
small = reduce_image(content, factor)
del content
stylised = tensor_to_pil(adain.load().stylize(small, style_path, content_size=0, supersample=1))
big = stylised.resize((stylised.width * factor, stylised.height * factor), Image.Resampling.BICUBIC)
save_image(Image.fromarray(np.asarray(big)[:height, :width]), output)
