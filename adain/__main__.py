import sys

from adain.cli import main

sys.exit(main())
