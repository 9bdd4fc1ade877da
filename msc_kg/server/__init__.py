"""The SPARQL 1.1 endpoint: a Flask app (create_app) served by msc_kg.server.http (serve.main)."""
