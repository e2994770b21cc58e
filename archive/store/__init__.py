"""SQL storage: schema, engine, repository queries and the keyword index."""
