"""Renderers: a report in, text or rich renderables out. Only the CLI edge prints."""
