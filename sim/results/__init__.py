"""Results of a replication, read from its record: tables, summary, explanations, files."""
