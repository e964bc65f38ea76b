"""Test helpers shipped for users: a Zoho CRM emulator and pytest fixtures."""
