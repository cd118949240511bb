"""``python -m llm_load.mock``: run the mock server."""

import sys

from llm_load.mock.cli import main

if __name__ == "__main__":
    sys.exit(main())
