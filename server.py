"""Run the msc-kg SPARQL endpoint: ``python server.py [--host H] [--port P] [--data FILE ...]``."""

from msc_kg.server.serve import main

if __name__ == "__main__":
    raise SystemExit(main())
