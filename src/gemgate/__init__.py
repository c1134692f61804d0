"""gemgate: run Google's Gemini API from Python in production."""

__version__ = "0.1.0"

__all__ = ["__version__"]
