"""The only code that talks to the Gemini API: drivers, the pipeline, tracking, SDK wiring."""
