"""The scenario and drill files: their model, values, loading and validation."""
