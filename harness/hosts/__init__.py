"""harness/hosts."""
