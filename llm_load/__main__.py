"""`python -m llm_load`: the `llm-load` command."""

import sys

from llm_load.cli import main

sys.exit(main())
