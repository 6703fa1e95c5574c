"""`python -m raftnode ...`: see raftnode.cli."""

import sys

from raftnode.cli import main

sys.exit(main())
