"""Properties, explorer and conformance."""
