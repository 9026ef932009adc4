"""`python -m tacotron.cli`: the `tacotron` command, e.g. under torchrun."""

import sys

from tacotron.cli import main

sys.exit(main())
