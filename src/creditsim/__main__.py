"""``python -m creditsim`` runs the CLI."""

from creditsim.cli import main

main()
