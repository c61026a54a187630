"""Plain files in a share, mirrored as docs (DESIGN §8)."""
