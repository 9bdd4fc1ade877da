"""The SPARQL 1.1 endpoint: a Flask app (create_app) served by waitress (serve.main)."""
