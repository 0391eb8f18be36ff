"""`python -m reviewkit …` runs the command line."""

import sys

from reviewkit.cli.app import main

sys.exit(main())
