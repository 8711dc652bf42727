"""The HTTP API and the client portal."""

from api.app import create_app

__all__ = ["create_app"]
