"""Image assembly steps: verified artifacts, distroless root filesystems, Debian layers."""
