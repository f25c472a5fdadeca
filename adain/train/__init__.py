"""Training: `config` (the schema of configs/train/*.yaml), `data` (content × style batches),
`objectives` (what each method minimises), `loop` (the training loop), `stages` (a recipe of
stages in one command), `checkpoint`, `tracking` (W&B and JSONL), `export` (shipped weights).

    python train.py --config configs/train/default.yaml [key=value ...] [--resume [PATH]]
"""
