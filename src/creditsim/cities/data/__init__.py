"""The shipped city profiles (TOML files, docs/cities.md)."""
