"""StreamrP2P node agent (``streamr-node``). Standalone: it must never import Django."""

__version__ = "0.1.0"
