"""The figure of a SynthFashion image: proportions, pose and landmarks in body units (ASEN++ Sec. IV-A stand-in).

:class:`Body` knows where the neck, shoulders, arms, torso and legs are; garments and details are placed
relative to these landmarks, so the regions the attributes' values are drawn in follow the person.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .geometry import Point


@dataclass
class Body:
    """A front-facing figure's proportions and pose (body units)."""

    ws: float  # horizontal width scale (slim .. plus size)
    nw: float  # neck half width
    nb: float  # y of the neck base
    chin: float  # y of the chin
    arm_a: tuple[float, float]  # upper-arm angle from vertical (rad), sides -1, +1
    arm_f: tuple[float, float]  # forearm angle from vertical (rad)
    leg_a: tuple[float, float]  # leg angle from vertical (rad)

    @staticmethod
    def sample(rng: np.random.Generator) -> "Body":
        """Draw proportions and a pose.

        Args:
            rng: random stream.

        Returns:
            The body.
        """
        ws = rng.uniform(0.9, 1.12)
        nw = 0.021 * rng.uniform(0.92, 1.1)
        nb = 0.158 + rng.uniform(-0.005, 0.005)
        chin = 0.124 + rng.uniform(-0.004, 0.003)
        a = rng.uniform(math.radians(5), math.radians(30), size=2)
        f = a + rng.uniform(math.radians(-18), math.radians(22), size=2)
        f = np.clip(f, math.radians(-6), math.radians(48))
        legs = rng.uniform(math.radians(1), math.radians(7), size=2)
        return Body(ws, nw, nb, chin, (a[0], a[1]), (f[0], f[1]), (legs[0], legs[1]))

    # --- landmarks
    @property
    def sh_y(self) -> float:
        """Height of the shoulder points."""
        return self.nb + 0.02

    def shoulder(self, side: int) -> Point:
        """Shoulder point on ``side`` (-1 image left, +1 image right)."""
        return (side * 0.1 * self.ws, self.sh_y)

    def armpit(self, side: int) -> Point:
        """Armpit point on ``side``."""
        return (side * 0.079 * self.ws, self.sh_y + 0.062)

    def torso_right(self, ease: float = 0.0, to: float = 0.5) -> list[Point]:
        """Right side silhouette of the torso below the armpit down to ``y=to`` (exclusive of hem)."""
        w = self.ws
        pts = [(0.083 * w + ease, 0.27), (0.066 * w + ease, 0.39), (0.094 * w + ease, 0.49), (0.093 * w + ease, 0.53)]
        out = []
        for x, y in pts:
            if y < to:
                out.append((x, y))
        out.append((self.torso_hw(to) + ease, to))
        return out

    def torso_hw(self, y: float) -> float:
        """Half width of the torso at height ``y`` (hips and below: the legs' outer extent)."""
        w = self.ws
        table = [
            (self.sh_y + 0.062, 0.079 * w),
            (0.27, 0.083 * w),
            (0.39, 0.066 * w),
            (0.49, 0.094 * w),
            (0.53, 0.093 * w),
        ]
        if y <= table[0][0]:
            return table[0][1]
        for (y0, x0), (y1, x1) in zip(table, table[1:]):
            if y <= y1:
                return x0 + (x1 - x0) * (y - y0) / (y1 - y0)
        return max(self.leg_outer(1, y), self.leg_outer(-1, y))

    # --- arms
    def _arm_dirs(self, side: int) -> tuple[Point, Point]:
        i = 0 if side < 0 else 1
        a, f = self.arm_a[i], self.arm_f[i]
        return (side * math.sin(a), math.cos(a)), (side * math.sin(f), math.cos(f))

    def arm_joint(self, side: int) -> Point:
        """Shoulder joint (start of the arm's centre line)."""
        return (side * 0.086 * self.ws, self.sh_y + 0.016)

    def arm_point(self, side: int, t: float) -> tuple[Point, Point, float]:
        """Centre, outward normal and half width at fraction ``t`` of shoulder->wrist (t > 1: hand)."""
        d1, d2 = self._arm_dirs(side)
        j = self.arm_joint(side)
        up, fore = 0.165, 0.145
        length = t * (up + fore)
        if length <= up:
            c = (j[0] + d1[0] * length, j[1] + d1[1] * length)
            d = d1
            hw = 0.026 + (0.019 - 0.026) * length / up
        else:
            e = (j[0] + d1[0] * up, j[1] + d1[1] * up)
            r = length - up
            c = (e[0] + d2[0] * r, e[1] + d2[1] * r)
            d = d2
            hw = 0.019 + (0.0135 - 0.019) * min(1.0, r / fore)
        n = (d[1] * side, -d[0] * side)
        return c, n, hw * (0.85 + 0.15 * self.ws)

    def arm_edges(
        self, side: int, t0: float, t1: float, extra: float = 0.0, flare: float = 0.0
    ) -> tuple[list[Point], list[Point]]:
        """Outer and inner edge polylines of the arm between ``t0`` and ``t1`` widened by ``extra``."""
        ts = [t0]
        for k in (0.25, 0.532, 0.8):
            if t0 < k < t1:
                ts.append(k)
        ts.append(t1)
        outer, inner = [], []
        for t in ts:
            c, n, hw = self.arm_point(side, t)
            w = hw + extra + flare * max(0.0, (t - t0) / max(1e-6, t1 - t0)) ** 2
            outer.append((c[0] + n[0] * w, c[1] + n[1] * w))
            inner.append((c[0] - n[0] * w, c[1] - n[1] * w))
        return outer, inner

    def arm_extent(self, y_max: float) -> float:
        """Largest ``|x|`` reached by either arm (edge included) at heights up to ``y_max``."""
        best = 0.0
        for side in (-1, 1):
            for k in range(26):
                c, _, hw = self.arm_point(side, k * 1.25 / 25)
                if c[1] - hw <= y_max:
                    best = max(best, abs(c[0]) + hw + 0.012)
        return best

    def limb(
        self,
        side: int,
        t1: float,
        extra: float,
        flare: float = 0.0,
        shoulder: Point | None = None,
        armpit: Point | None = None,
    ) -> list[Point]:
        """Closed polygon of an arm (or sleeve) from the shoulder to ``t1``.

        The inner edge is only followed below ``t = 0.25``; above that it lies inside the torso and
        the polygon closes through the armpit instead (no self-intersection)."""
        outer, _ = self.arm_edges(side, 0.0, t1, extra, flare)
        if t1 > 0.25:
            _, inner = self.arm_edges(side, 0.25, t1, extra, flare)
        else:
            _, inner = self.arm_edges(side, t1 - 1e-4, t1, extra, flare)
        sh = shoulder or self.shoulder(side)
        ap = armpit or self.armpit(side)
        return [sh] + outer + inner[::-1] + [ap]

    def hand_y(self) -> float:
        """Lowest fingertip height of both hands."""
        return max(self.arm_point(s, 1.22)[0][1] for s in (-1, 1))

    # --- legs
    def hip_joint(self, side: int) -> Point:
        """Top of the leg's centre line."""
        return (side * 0.047 * self.ws, 0.52)

    def leg_center(self, side: int, y: float) -> float:
        """``x`` of the leg's centre line at height ``y``."""
        a = self.leg_a[0 if side < 0 else 1]
        return self.hip_joint(side)[0] + side * math.tan(a) * (y - 0.52)

    def leg_hw(self, y: float) -> float:
        """Half width of a leg at height ``y``."""
        table = [(0.52, 0.047 * self.ws), (0.73, 0.028), (0.80, 0.030), (0.945, 0.015), (1.0, 0.016)]
        if y <= table[0][0]:
            return table[0][1]
        for (y0, x0), (y1, x1) in zip(table, table[1:]):
            if y <= y1:
                return x0 + (x1 - x0) * (y - y0) / (y1 - y0)
        return table[-1][1]

    def leg_outer(self, side: int, y: float) -> float:
        """``|x|`` of the leg's outer edge at height ``y``."""
        return abs(self.leg_center(side, y)) + self.leg_hw(y)

    def leg_polygon(self, side: int, y0: float, y1: float, ease: float = 0.0, flare: float = 0.0) -> list[Point]:
        """Closed polygon of a leg (or trouser leg widened by ``ease``/``flare``) from ``y0`` to ``y1``."""
        ys = [y0] + [y for y in (0.6, 0.73, 0.8, 0.88) if y0 < y < y1] + [y1]
        outer, inner = [], []
        for y in ys:
            c = self.leg_center(side, y)
            w = self.leg_hw(y) + ease + flare * max(0.0, (y - y0) / max(1e-6, y1 - y0))
            outer.append((c + side * w, y))
            inner.append((c - side * w, y))
        return outer + inner[::-1]
