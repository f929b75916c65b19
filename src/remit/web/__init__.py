"""The FastAPI application: pages for people, a JSON API for programs."""
