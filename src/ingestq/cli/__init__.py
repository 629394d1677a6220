"""ingestctl, the operator CLI: thin commands over the library."""
