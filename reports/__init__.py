"""Reports: trend series, exports, signals and digests computed from storage."""
