"""Debian packages, exactly: resolved once by ``lock`` (natively, for any architecture), then
downloaded, verified and installed from the lock by every build."""
