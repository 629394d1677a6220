"""Document ingestion: parse files into sections and chunks, embed them, write them to stores."""
