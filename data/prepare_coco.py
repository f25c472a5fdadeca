"""Download MS-COCO train2014 (content photos of the AdaIN paper) and write manifests.

    python data/prepare_coco.py --root datasets [--limit N]
    → datasets/coco/train2014/*.jpg, datasets/coco/content_train.txt, content_val.txt
"""

from _common import prepare_archive

if __name__ == "__main__":
    prepare_archive(__doc__, "http://images.cocodataset.org/zips/train2014.zip", "train2014.zip",
                    extract_to="coco", images_folder="coco/train2014", prefix="content")
