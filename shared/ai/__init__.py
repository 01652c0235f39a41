"""Models: embeddings and generation, on Gemini or offline, behind two ports."""
