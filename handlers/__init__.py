"""connexion's operationIds: thin adapters from HTTP to the service layer (mie.service)."""
