"""raftnode."""
