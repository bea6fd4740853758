"""The project's tests (a package, so `tests.*` helpers resolve here and not to a `tests` package some
dependency installs into site-packages, as neurokit2 does)."""
