"""The order samples are visited in an epoch, shared by the host trainer and
the board so both train on exactly the same batches. Pure Python (MicroPython
friendly): Fisher-Yates driven by xorshift32, seeded by (seed, epoch)."""

MASK32 = 0xFFFFFFFF


def _xorshift32(state):
    state ^= (state << 13) & MASK32
    state ^= state >> 17
    state ^= (state << 5) & MASK32
    return state & MASK32


def _seed_state(seed, epoch):
    # mix so that nearby seeds / epochs give unrelated streams; never zero
    state = ((seed & MASK32) * 0x9E3779B1 + (epoch + 1) * 0x85EBCA77) & MASK32
    return state or 0x6D2B79F5


def epoch_order(n_samples, seed, epoch, shuffle=True):
    """List of sample indices for `epoch` (0-based)."""
    order = list(range(n_samples))
    if not shuffle:
        return order
    state = _seed_state(seed, epoch)
    for i in range(n_samples - 1, 0, -1):
        state = _xorshift32(state)
        j = state % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order
