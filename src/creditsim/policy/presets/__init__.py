"""Preset policy files shipped with creditsim (TOML, one per city or list)."""
