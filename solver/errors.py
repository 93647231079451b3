"""Exception types. Every user-facing failure is one of these, so the CLI can
print one line and exit 2 instead of a traceback."""


class InputError(ValueError):
    """Bad input: unreadable file, wrong shapes, NaN/inf, empty matrix,
    unsupported model operator. The message names the offending argument."""


class CertificateError(ValueError):
    """A certificate or witness file that cannot be parsed at all."""
