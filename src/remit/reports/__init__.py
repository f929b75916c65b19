"""Report rendering (HTML/PDF), figures and formatted tables."""
