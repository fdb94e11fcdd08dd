import numpy as np

def inspect(
    y: np.ndarray,
    x: np.ndarray,
    q: np.ndarray | None = None,
    cal_n: np.ndarray | None = None,
    cal_p: np.ndarray | None = None,
    tiny: np.ndarray | None = None,
    below: float = 0.0,
    /,
) -> tuple[float, float, int, int, float, int, int, int]: ...
def losses(
    loss: np.ndarray, sketch: np.ndarray, threshold: float, above: np.ndarray, /
) -> tuple[int, float, float, int]: ...
def simd(enabled: bool | None = None, /) -> bool: ...
