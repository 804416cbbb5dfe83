"""ICE Council Tracker: council and commission votes on immigration enforcement."""

__version__ = "0.1.0"
