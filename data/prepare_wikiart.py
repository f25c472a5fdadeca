"""Download WikiArt (style images of the AdaIN paper; the ArtGAN release) and write manifests.

    python data/prepare_wikiart.py --root datasets [--limit N]
    → datasets/wikiart/<movement>/*.jpg, datasets/wikiart/style_train.txt, style_val.txt
"""

from _common import prepare_archive

if __name__ == "__main__":
    prepare_archive(__doc__, "https://archive.org/download/wikiart-dataset/wikiart.zip", "wikiart.zip",
                    extract_to=".", images_folder="wikiart", prefix="style")
