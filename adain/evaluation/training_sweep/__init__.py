"""Training hyperparameter sweeps: one W&B sweep file, run by W&B or locally as a resumable grid.

    wandb sweep configs/sweep/train.yaml && wandb agent ENTITY/PROJECT/ID      # on W&B, one train.py run per point
    adain sweep --config configs/sweep/train.yaml --run-dir runs/sweep-lr \\
        [--pairs 8] [--size 256] [key=value ...]                               # here: train, export, evaluate

The local runner reads the same file as W&B:

- `parameters`: each a dotted train-config key (adain.train.config.TrainConfig) with a `values`
  list (or one `value`).  The grid is their product in file order, the last key varying fastest.
- `command`: `--config BASE` and the fixed `key=value` arguments, as train.py receives them.  W&B's
  macros (`${env}`, `${interpreter}`, `${program}`, `${args_no_hyphens}`, …) are skipped, and so
  are `run_dir` (each point trains in RUN_DIR/<slug>/) and `wandb.mode` (a W&B agent needs
  "online"; locally the base config's mode holds, offline by default, unless a key=value sets it).
- The command line's `key=value` come after the fixed ones; one for a swept key keeps that single
  value of it (`data.crop_size=128` runs only the 128 column of the grid).

Each point: the base config + fixed arguments + the point's values + the command line's key=value
→ adain.train.stages.train into RUN_DIR/<slug>/ (as train.py --resume: a stopped point continues
from its own latest checkpoint) → RUN_DIR/<slug>/decoder.safetensors (a staged config exports its
own; a single run's final checkpoint is exported) → the evaluation harness on the first C val
contents × S val styles (C·S = --pairs) at --size² → RUN_DIR/<slug>/eval/summary.json.  When the
base config warm-starts (`init_decoder`, e.g. the fine-tune) that decoder is scored on the same
pairs as the reference row, in RUN_DIR/reference/.  After every point RUN_DIR/sweep.csv,
sweep.md and sweep.png are rewritten (atomically) from what is on disk.

A point whose decoder exists and whose evaluation finished with these pairs is skipped.  Every
point writes only inside its own folder (and the shared evaluation cache, keyed by the decoder
file's contents), and RUN_DIR/<slug>/point.json records its resolved config: a point folder
trained with other settings is refused, not continued.  Bad input (missing sweep file, a key
that is not a train-config key, an empty values list, …) is a UserError before anything trains.

Modules: spec (the sweep file, its grid, each point's config), runner (training and scoring each
point, resuming, run_sweep), table (sweep.csv, sweep.md, sweep.png from what is on disk).
"""

from adain.evaluation.training_sweep.runner import (VOLATILE, eval_config, evaluate, evaluated, pair_layout, run_sweep,
                                                    run_sweep_command, train_point)
from adain.evaluation.training_sweep.spec import (DECODER_FILE, EVAL_DIR, EVAL_DONE, IGNORED_FIXED, POINT_FILE,
                                                  REFERENCE, Point, SweepSpec, check_keys, load_sweep, point_config,
                                                  points, split_overrides)
from adain.evaluation.training_sweep.table import (LOSS_COLUMNS, TABLE_MEASURES, measures, read_csv, sweep_plot,
                                                   table_rows, training_record, write_tables)

__all__ = ["DECODER_FILE", "EVAL_DIR", "EVAL_DONE", "IGNORED_FIXED", "LOSS_COLUMNS", "POINT_FILE", "REFERENCE",
           "TABLE_MEASURES", "VOLATILE", "Point", "SweepSpec", "check_keys", "eval_config", "evaluate", "evaluated",
           "load_sweep", "measures", "pair_layout", "point_config", "points", "read_csv", "run_sweep",
           "run_sweep_command", "split_overrides", "sweep_plot", "table_rows", "train_point", "training_record",
           "write_tables"]
