import sys

from raftnode.sim.cli import main

sys.exit(main())
