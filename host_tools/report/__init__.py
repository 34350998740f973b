"""Human-readable reports of a planned program."""
