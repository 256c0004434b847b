"""Modal ingest functions. ``app.py`` (the deploy entry point) imports the deployed ones."""
