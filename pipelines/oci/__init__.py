"""OCI images as files: reproducible image layouts (fixed times, fixed order)."""
