"""Layanan: a self-hosted one-door service desk for campus departments."""
