"""Tables of the Telegram collection feature (discovered channels). Migration 0004."""
from __future__ import annotations
