"""ingest: indexes Hub datasets into text chunks and searches them, behind Nia's data-source API."""
