"""Linli (邻里): a chat bot that keeps a residential compound's promise:
件件有回音、事事有着落、人人有答复."""

__version__ = "0.1.0"
