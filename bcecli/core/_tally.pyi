import numpy as np

def inspect(y: np.ndarray, x: np.ndarray, /) -> tuple[float, float, int, int]: ...
def tally(
    y: np.ndarray,
    p: np.ndarray,
    loss: np.ndarray,
    sketch: np.ndarray,
    cal_n: np.ndarray,
    cal_p: np.ndarray,
    /,
) -> tuple[float, int, int, int, float, float]: ...
