"""Stores: the Store protocol and its SQLite, Qdrant and Neo4j implementations."""
