"""One Host interface, two transports: local (subprocess) and SSH (paramiko)."""
