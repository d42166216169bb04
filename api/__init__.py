"""The Falcon WSGI app: a thin door into the domain."""
