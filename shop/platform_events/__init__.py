"""Inbound platform events (platform-api.md): transport here, handlers registered by each app."""
