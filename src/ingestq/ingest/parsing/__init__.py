"""Parsing: read a source file safely, parse Markdown/HTML/text into sections and chunks."""
