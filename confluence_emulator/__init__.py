"""A faithful local double of the Confluence REST API (Cloud v1/v2, API gateway + OAuth, Data Center)."""
from .admin import AdminClient
from .server import Emulator

__all__ = ["Emulator", "AdminClient"]
