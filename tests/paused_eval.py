"""eval.py that stops half-way through caching its N-th output and waits there to be killed
(for tests/test_eval_resume).

    python tests/paused_eval.py N FD eval.py-arguments...

The N-th stylised output's PNG is in the cache, its record (<key>.json, what marks the item
complete) is not.  On getting there it writes one line, "paused before the record of output N",
to the file descriptor FD (a pipe the test reads) and blocks until the process is killed, so the
test kills at a moment defined by what the run has done, whatever the machine's speed.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    outputs, fd, eval_args = int(argv[0]), int(argv[1]), argv[2:]
    from adain.evaluation import cache

    write_json_atomic, records = cache.write_json_atomic, []

    def paused_write(path: Path, value) -> None:
        if path.name == f"{path.parent.name}{path.name[2:]}" and path.name.count(".") == 1:  # <key[:2]>/<key>.json
            records.append(path)
            if len(records) == outputs:
                os.write(fd, f"paused before the record of output {outputs}\n".encode())
                threading.Event().wait()  # until SIGKILL
        write_json_atomic(path, value)

    cache.write_json_atomic = paused_write
    sys.path.insert(0, str(ROOT))
    import eval as eval_script

    return eval_script.main(eval_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
