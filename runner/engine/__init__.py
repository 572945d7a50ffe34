"""The drill engine: phases in order, guaranteed cleanup, the run record."""
