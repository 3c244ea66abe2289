"""svcctl: deploy, audit and repair launchd services without ever leaving two instances."""

__version__ = "0.1.0"
