"""A "user" for the personalisation demo: digits as one person writes them.

Each user has a fixed, seeded handwriting: a slant (rotation and shear), a
small offset and thicker strokes, applied to every digit they write. A
model pretrained on the clean digits reads such a user poorly; a few hundred
of their samples, trained on the board, fix that. User-train comes from the
digits training split and user-held-out from the test split, so the
held-out accuracy is measured on digits the model never saw in any form."""
import numpy as np

from host_tools.data import DataSet, digits

CENTRE = np.array([3.5, 3.5])   # 8x8 image centre (pixel units)


def handwriting(user):
    """The user's fixed affine map (2x2 matrix, offset) for scipy's affine_transform."""
    rng = np.random.default_rng(user)
    angle = np.deg2rad(rng.uniform(15, 25) * rng.choice([-1, 1]))
    shear = rng.uniform(0.0, 0.3) * rng.choice([-1, 1])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = rotation @ np.array([[1.0, shear], [0.0, 1.0]])
    offset = CENTRE - matrix @ CENTRE + rng.uniform(-0.8, 0.8, 2)
    return matrix, offset


def write_like(user, x):
    """x (n, 1, 8, 8) in [0, 1] -> the same digits in the user's hand."""
    from scipy import ndimage
    matrix, offset = handwriting(user)
    out = np.empty_like(x)
    for i, image in enumerate(x[:, 0]):
        slanted = ndimage.affine_transform(image, matrix, offset=offset, order=1, mode="constant")
        out[i, 0] = np.clip(ndimage.grey_dilation(slanted, size=(2, 2)), 0.0, 1.0)  # thicker pen
    return out


def user_data(user, n_train=640):
    """-> DataSet: x, y the user's training samples, x_test, y_test held out."""
    clean = digits()
    rng = np.random.default_rng(10_000 + user)
    pick = rng.choice(len(clean.x), size=min(n_train, len(clean.x)), replace=False)
    return DataSet(write_like(user, clean.x[pick]), clean.y[pick],
                   write_like(user, clean.x_test), clean.y_test, f"user {user} digits")
