"""hubstream's services: catalog, ingest, versioning, and the runtime they share."""
