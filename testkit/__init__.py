"""Helpers for tests that run real media parts (an nginx-rtmp origin, ffmpeg publishers)."""
