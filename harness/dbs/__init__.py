"""harness/dbs."""
