import numpy as np
import pytest
import torch
from PIL import Image

from asen.roi import crop_box, crop_boxes, zoom, zoom_per_image


def spec_crop_box(att, image_size, threshold, g=224):
    """The specification, step by step, written independently with plain Python on the quantised map."""
    up = torch.nn.functional.interpolate(torch.tensor(att, dtype=torch.float32)[None, None], size=(g, g),
                                         mode="bilinear", align_corners=False)[0, 0].numpy()
    lo, hi = up.min(), up.max()
    q = ((up - lo) / (hi - lo) * 255.0).astype(np.uint8)
    ys, xs = np.nonzero(q > int(255 * threshold))
    x, y = xs.min(), ys.min()
    w, h = xs.max() - x + 1, ys.max() - y + 1
    xc, yc, d = x + w // 2, y + h // 2, max(w, h)
    x = g - d if xc + d // 2 > g else max(0, xc - d // 2)
    y = g - d if yc + d // 2 > g else max(0, yc - d // 2)
    width, height = image_size
    s = min(width, height)
    x, y, d = int(x / g * s), int(y / g * s), int(d / g * s)
    if width > height:
        x += (width - s) // 2
    elif height > width:
        y += (height - s) // 2
    return (x, y, x + d, y + d)


def test_hand_worked_box():
    # a single hot cell of a 2x2 map -> after resizing to 4x4 the top-left 2x2 block is above 0.5
    att = np.array([[1.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    # quantised 4x4 map: rows [255,191,63,0],[191,143,47,0],[63,47,15,0],[0,0,0,0]; > floor(255*0.5)=127 keeps
    # (0,0),(0,1),(1,0),(1,1): rect x=0,y=0,w=2,h=2 -> xc=1, d=2 -> x=max(0,1-1)=0 -> box 0..2 in a 4 px frame
    assert crop_box(att, (4, 4), 0.5, global_size=4) == (0, 0, 2, 2)
    # the same in an 8x4 (landscape) original: S=4, offset (8-4)//2=2 along x
    assert crop_box(att, (8, 4), 0.5, global_size=4) == (2, 0, 4, 2)
    # a 400x300 original, scale 300/4 = 75
    assert crop_box(att, (300, 400), 0.5, global_size=4) == (0, 50, 150, 200)
    # strictly greater: a cell quantised to exactly floor(255 * 0.5) = 127 is not kept (else the box is the frame)
    edge = np.zeros((8, 8), np.float32)
    edge[0, 0], edge[7, 7] = 255.0, 127.0
    assert crop_box(edge, (8, 8), 0.5, global_size=8) == (0, 0, 1, 1)


def test_flat_map_falls_back_to_whole_image():
    assert crop_box(np.full((14, 14), 0.3), (300, 200), 0.1) == (50, 0, 250, 200)


def test_square_pushed_inside_frame_and_odd_overflow():
    att = np.zeros((14, 14), np.float32)
    att[:, 13] = 1.0  # right edge
    box = crop_box(att, (224, 224), 0.4)
    assert box == spec_crop_box(att, (224, 224), 0.4)
    assert box[2] - box[0] == box[3] - box[1]
    assert box[2] <= 225  # at most one pixel past the frame (odd d), as specified
    # the odd overflow itself, by hand: an 8 x 8 map at global size 8 (bilinear resize to the same size is the
    # identity) with cells (x=6, y=1..5) hot -> rect x=6, y=1, w=1, h=5; xc=6, d=5: xc + d//2 = 8 is not > 8, so
    # x = max(0, 6 - 2) = 4 and the square (4..9) ends one pixel past the frame; y = max(0, 3 - 2) = 1
    odd = np.zeros((8, 8), np.float32)
    odd[1:6, 6] = 1.0
    assert crop_box(odd, (8, 8), 0.5, global_size=8) == (4, 1, 9, 6) == spec_crop_box(odd, (8, 8), 0.5, g=8)


@pytest.mark.parametrize("seed", range(4))
def test_matches_specification_and_batched(seed):
    rng = np.random.default_rng(seed)
    maps = rng.random((6, 14, 14)).astype(np.float32) ** 4
    sizes = [(224, 224), (512, 512), (300, 500), (640, 480), (113, 90), (224, 300)]
    thr = [0.1, 0.4, 0.1, 0.7, 0.2, 0.1]
    for m, s, t in zip(maps, sizes, thr):
        assert crop_box(m, s, t) == spec_crop_box(m, s, t)
    batched = crop_boxes(torch.from_numpy(maps), torch.tensor(sizes), 0.1)
    single = [crop_box(m, s, 0.1) for m, s in zip(maps, sizes)]
    assert batched.tolist() == [list(b) for b in single]


def test_batched_zoom_matches_per_image_path():
    rng = np.random.default_rng(0)
    imgs = [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).filter(__import__("PIL.ImageFilter").ImageFilter.GaussianBlur(3))
            for w, h in [(224, 224), (300, 200), (200, 260)]]
    boxes = [(10, 20, 122, 132), (50, 0, 250, 200), (0, 100, 56, 156)]
    ref = zoom_per_image(imgs, boxes, 56)
    padded = torch.zeros(3, 3, 260, 300, dtype=torch.uint8)
    for i, im in enumerate(imgs):
        t = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)
        padded[i, :, : t.shape[1], : t.shape[2]] = t
    out = zoom(padded, torch.tensor(boxes), 56)
    assert out.shape == ref.shape == (3, 3, 56, 56)
    # same boxes, two resamplers (roi_align vs PIL bilinear): equal up to interpolation differences
    assert (out - ref).abs().mean() < 0.05
    # the adaptive sampling grid and a float input in [0, 255] give the same crops up to resampling
    adaptive = zoom(padded.float(), torch.tensor(boxes), 56, sampling_ratio=-1)
    assert (adaptive - ref).abs().mean() < 0.05
    assert not torch.equal(adaptive, out)
    # and a crop past the frame is black in both
    black = zoom(padded[:1], torch.tensor([[200, 200, 260, 260]]), 8)
    ref_black = zoom_per_image(imgs[:1], [(200, 200, 260, 260)], 8)
    torch.testing.assert_close(black[0, :, -1, -1], ref_black[0, :, -1, -1])


def test_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        crop_box(np.zeros((1, 14, 14)), (224, 224), 0.1)
    with pytest.raises(ValueError, match="threshold"):
        crop_box(np.zeros((14, 14)), (224, 224), 1.5)


def test_local_inputs_modes_agree_box_for_box():
    """The batched path (one tensor computation + roi_align) and the reference's per-image path (a box and a PIL
    crop per image) cut the same boxes; the crops differ only by the resampler."""
    from asen.roi import local_inputs

    rng = np.random.default_rng(3)
    maps = torch.from_numpy(rng.random((5, 8, 8)).astype(np.float32)) ** 4
    maps[2] = 0.5  # a flat map: the whole frame
    sizes = torch.tensor([(224, 224), (300, 200), (200, 260), (224, 224), (180, 180)])
    originals = torch.zeros(5, 3, 260, 300, dtype=torch.uint8)
    for i, (w, h) in enumerate(sizes.tolist()):
        img = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).filter(
            __import__("PIL.ImageFilter").ImageFilter.GaussianBlur(3))
        originals[i, :, :h, :w] = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)
    crops_b, boxes_b = local_inputs(maps, originals, sizes, 0.3, 64, 32, mode="batched")
    crops_p, boxes_p = local_inputs(maps, originals, sizes, 0.3, 64, 32, mode="per_image")
    assert boxes_b.tolist() == boxes_p.tolist()
    assert boxes_b[2].tolist() == [0, 30, 200, 230]  # flat map on a 200 x 260 image: the centred square
    assert boxes_b.tolist() != [boxes_b[0].tolist()] * 5
    assert crops_b.shape == crops_p.shape == (5, 3, 32, 32)
    assert (crops_b - crops_p).abs().mean() < 0.05
    with pytest.raises(ValueError, match="crop mode"):
        local_inputs(maps, originals, sizes, 0.3, 64, 32, mode="nope")
