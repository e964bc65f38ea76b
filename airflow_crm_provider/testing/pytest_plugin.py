"""Pytest fixtures that start the Zoho CRM emulator on a loopback port (placeholder)."""

from __future__ import annotations
