"""asen.plots: image conversion, map resizing and the overlay scales used by the book's figures."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from asen.data import normalize, to_tensor  # noqa: E402
from asen.plots import draw_box, image_grid, show_attention, to_display, upsample_map  # noqa: E402


@pytest.fixture()
def picture():
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8))


def test_to_display_inverts_the_model_normalisation(picture):
    expected = np.asarray(picture, dtype=np.float32) / 255.0
    np.testing.assert_allclose(to_display(picture), expected)
    np.testing.assert_allclose(to_display(normalize(to_tensor(picture))), expected, atol=1e-5)
    uint8 = torch.from_numpy(np.asarray(picture).copy()).permute(2, 0, 1)
    np.testing.assert_allclose(to_display(uint8), expected)
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        to_display(torch.zeros(1, 3, 4, 4))


def test_upsample_map_keeps_a_uniform_map_uniform_and_matches_torch():
    flat = np.full((7, 7), 1 / 49, dtype=np.float32)
    np.testing.assert_allclose(upsample_map(flat, (30, 20)), np.full((20, 30), 1 / 49), rtol=1e-6)
    m = np.random.default_rng(1).random((6, 6)).astype(np.float32)
    ref = torch.nn.functional.interpolate(torch.from_numpy(m)[None, None], size=(12, 12), mode="bilinear",
                                          align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(upsample_map(m, (12, 12)), ref)


def test_show_attention_scales(picture):
    fig, ax = plt.subplots()
    m = np.full((4, 4), 1 / 16, dtype=np.float32)
    m[0, 0] += 0.5
    m /= m.sum()
    fixed = show_attention(ax, picture, m, vmax=4.0)
    assert fixed.get_clim() == (0.0, 4.0)
    assert fixed.get_array().shape == (20, 30)
    assert fixed.get_array().max() == pytest.approx(upsample_map(m, (30, 20)).max() * 16)
    minmax = show_attention(ax, picture, m)
    assert minmax.get_array().min() == pytest.approx(0.0) and minmax.get_array().max() == pytest.approx(1.0)
    flat = show_attention(ax, picture, np.full((4, 4), 1 / 16))
    assert float(np.max(flat.get_array())) == 0.0  # a flat map shows as flat, not as noise
    plt.close(fig)


def test_draw_box_and_grid():
    fig, axes = image_grid(1, 3, size=1.0)
    assert axes.shape == (1, 3)
    rect = draw_box(axes[0, 0], (2, 3, 12, 13))
    assert (rect.get_width(), rect.get_height()) == (10, 10)
    assert rect.get_xy() == (1.5, 2.5)  # pixel edges: pixel i spans [i - 0.5, i + 0.5]
    plt.close(fig)
