"""Tables of the reports and early-warning feature (signals, digest deliveries). Migration 0003."""
from __future__ import annotations
