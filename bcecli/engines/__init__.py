"""Engines that score an input somewhere other than this process (the local engine is
``bcecli.pipeline.run_score`` itself)."""
