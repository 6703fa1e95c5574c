"""raftnode/core."""
