"""The pure core: numpy arrays in, frozen dataclasses out. No click, no rich, no printing."""
