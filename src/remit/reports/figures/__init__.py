"""The report's figures, each drawn with matplotlib and returned as inline SVG."""
