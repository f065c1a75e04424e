"""Seven pen styles of the ten digits as strokes, for the drawn-digit benchmark.

Written for the benchmark only (not the training data, not core/synthetic.py): each digit of
each style is a list of strokes, each stroke a polyline in a unit box (x right, y down, the
digit spanning y 0..1 and x about 0..1). `arc(cx, cy, rx, ry, t0, t1)` walks an ellipse
with angles in degrees on screen axes (0 = right, 90 = down), from t0 to t1 in either
direction. Styles differ the way people's and fonts' digits do: open or closed 4, 7 with or
without a bar, 1 with a flag and a base or a bare stick, 9 with a straight or a curved tail,
round or angular bowls, narrow or wide, loops on 2 and 8 or not.
"""
from __future__ import annotations

import numpy as np

Stroke = list[tuple[float, float]]


def arc(cx: float, cy: float, rx: float, ry: float, t0: float, t1: float, n: int = 0) -> Stroke:
    n = n or max(4, int(abs(t1 - t0) / 10))
    t = np.radians(np.linspace(t0, t1, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


def line(*points: tuple[float, float]) -> Stroke:
    return list(points)


def join(*parts: Stroke) -> Stroke:
    out: Stroke = []
    for part in parts:
        out.extend(part)
    return out


def _sans() -> dict[int, list[Stroke]]:
    """Typeset sans: closed 4, flagged 1, round bowls."""
    return {
        0: [arc(.5, .5, .4, .5, -90, 270)],
        1: [line((.25, .22), (.55, 0), (.55, 1))],
        2: [join(arc(.5, .28, .38, .28, 200, 400), line((.08, 1), (.95, 1)))],
        3: [join(arc(.5, .25, .36, .25, 205, 450), arc(.5, .73, .42, .27, -90, 155))],
        4: [line((.72, 1), (.72, 0), (.05, .7), (.97, .7))],
        5: [join(line((.85, 0), (.25, 0), (.18, .45)), arc(.5, .68, .4, .32, -145, 150))],
        6: [join(arc(.55, .5, .42, .5, -55, -270), arc(.52, .7, .38, .3, 90, -190))],
        7: [line((.05, 0), (.95, 0), (.35, 1))],
        8: [join(arc(.5, .24, .32, .24, -90, -270), arc(.5, .73, .4, .27, -90, 270),
                 arc(.5, .24, .32, .24, 90, -90))],
        9: [join(arc(.48, .3, .4, .3, 10, -350), arc(.45, .5, .43, .5, 0, 110))],
    }


def _european() -> dict[int, list[Stroke]]:
    """Continental hand: 1 with a long flag, crossed 7, open 4, straight-tailed 9."""
    return {
        0: [arc(.5, .5, .35, .5, -100, 265)],
        1: [line((.15, .35), (.6, 0), (.6, 1))],
        2: [join(arc(.45, .27, .38, .27, 190, 380), line((.1, 1)), line((.95, .95)))],
        3: [line((.1, 0), (.85, 0), (.4, .4)), arc(.45, .68, .42, .32, -100, 150)],
        4: [line((.3, 0), (.05, .65), (.95, .65)), line((.72, .3), (.72, 1))],
        5: [line((.25, .02), (.15, .45)), join(line((.17, .45)), arc(.48, .67, .4, .33, -135, 145)),
            line((.25, 0), (.9, 0))],
        6: [join(line((.75, 0), (.2, .55)), arc(.5, .72, .35, .28, 180, 540))],
        7: [line((.05, .1), (.2, 0), (.95, 0), (.45, 1)), line((.35, .5), (.85, .5))],
        8: [join(arc(.5, .25, .34, .25, 0, -180), line((.16, .25), (.85, .72)),
                 arc(.5, .74, .36, .26, 0, 180), line((.16, .72), (.84, .25)))],
        9: [join(arc(.45, .28, .38, .28, 0, -360), line((.83, .28), (.83, 1)))],
    }


def _rounded() -> dict[int, list[Stroke]]:
    """School print: round and wide, open 4, curly tail on 9, loop at the bottom of 2."""
    return {
        0: [arc(.5, .5, .47, .5, 250, -110)],
        1: [line((.5, 0), (.5, 1))],
        2: [join(arc(.5, .3, .42, .3, 190, 385), line((.1, .95)), arc(.2, .9, .1, .08, 180, -90),
                 line((.95, .97)))],
        3: [join(arc(.5, .26, .4, .26, 190, 450), arc(.5, .74, .45, .26, -90, 160))],
        4: [line((.25, 0), (.12, .62), (.95, .62)), line((.68, .05), (.68, 1))],
        5: [line((.25, 0), (.22, .43)), join(arc(.52, .7, .42, .3, -130, 160)), line((.25, 0), (.92, 0))],
        6: [join(arc(.62, .55, .5, .55, -80, -260), arc(.5, .72, .38, .28, 100, -250))],
        7: [line((.03, 0), (.97, 0), (.55, .5), (.4, 1))],
        8: [join(arc(.5, .25, .36, .25, -60, -300), arc(.5, .74, .44, .26, -90, 270),
                 arc(.5, .25, .36, .25, 60, -60))],
        9: [join(arc(.5, .28, .42, .28, 0, -360), arc(.35, .28, .57, .72, 0, 85))],
    }


def _serif() -> dict[int, list[Stroke]]:
    """Typewriter-like: 1 with flag and base, barred 7 no, open-top 4 with base, hooks."""
    return {
        0: [arc(.5, .5, .38, .5, -90, 270), line((.35, .7), (.65, .3))][:1],
        1: [line((.3, .15), (.55, 0), (.55, 1)), line((.25, 1), (.85, 1))],
        2: [join(arc(.5, .26, .4, .26, 180, 360), line((.9, .26), (.05, 1), (.95, 1), (.95, .88)))],
        3: [join(arc(.5, .23, .38, .23, 200, 440)), join(arc(.48, .72, .45, .28, -110, 170))],
        4: [line((.7, 1), (.7, 0), (.0, .72), (1.0, .72)), line((.5, 1), (.9, 1))],
        5: [join(line((.9, 0), (.2, 0), (.2, .42)), arc(.5, .7, .42, .3, -155, 140), line((.1, .8)))],
        6: [join(line((.85, .05)), arc(.62, .5, .48, .5, -70, -270), arc(.5, .72, .38, .28, 90, -205))],
        7: [line((.0, .18), (.0, 0), (.95, 0), (.95, .1), (.4, 1))],
        8: [join(arc(.5, .24, .36, .24, -90, -270), arc(.5, .74, .42, .26, -90, 270),
                 arc(.5, .24, .36, .24, 90, -90))],
        9: [join(arc(.5, .3, .4, .3, 0, -360), arc(.4, .3, .5, .7, 0, 100))],
    }


def _slanted() -> dict[int, list[Stroke]]:
    """Quick cursive hand: narrow loops, pointed 0, 2 with a bottom loop, 7 with a hook."""
    return {
        0: [join(arc(.5, .5, .42, .5, -70, 250), line((.62, .05)))],
        1: [line((.42, .1), (.6, 0), (.45, 1))],
        2: [join(arc(.5, .3, .4, .3, 200, 370), line((.8, .45), (.15, .95)),
                 arc(.3, .88, .15, .1, 180, -170), line((.95, .98)))],
        3: [join(arc(.5, .25, .35, .25, 210, 440), line((.45, .52)), arc(.48, .74, .42, .26, -80, 165))],
        4: [line((.35, 0), (.1, .6), (.95, .6)), line((.75, .15), (.62, 1))],
        5: [join(line((.95, 0), (.3, 0), (.2, .45)), arc(.52, .7, .4, .3, -150, 130))],
        6: [join(arc(.65, .55, .5, .55, -90, -270), arc(.55, .73, .35, .27, 90, -270))],
        7: [line((.05, .05), (.9, 0), (.6, .45), (.35, 1))],
        8: [join(arc(.55, .24, .33, .24, -45, -270), arc(.5, .73, .42, .27, -90, 270),
                 arc(.55, .24, .33, .24, 90, -45))],
        9: [join(arc(.48, .28, .38, .28, 20, -340), line((.85, .35), (.65, 1)))],
    }


def _narrow() -> dict[int, list[Stroke]]:
    """Condensed typeface: tall and narrow, closed 4, angular 7 and 1 with a flag."""
    return {
        0: [arc(.5, .5, .3, .5, -90, 270)],
        1: [line((.35, .12), (.55, 0), (.55, 1))],
        2: [join(arc(.5, .22, .3, .22, 190, 370), line((.8, .35), (.2, 1), (.82, 1)))],
        3: [join(line((.2, .05), (.5, 0)), arc(.5, .22, .3, .22, -90, 90)),
            join(line((.4, .45)), arc(.5, .72, .32, .28, -90, 160))],
        4: [line((.68, 1), (.68, 0), (.15, .68), (.85, .68))],
        5: [join(line((.8, 0), (.3, 0), (.25, .4)), arc(.5, .66, .32, .32, -140, 155))],
        6: [join(line((.75, 0), (.35, .3)), arc(.5, .68, .3, .32, 200, 565))],
        7: [line((.15, 0), (.85, 0), (.4, 1))],
        8: [join(arc(.5, .23, .27, .23, -90, -270), arc(.5, .73, .32, .27, -90, 270),
                 arc(.5, .23, .27, .23, 90, -90))],
        9: [join(arc(.5, .3, .3, .3, -20, -380), line((.78, .4), (.5, 1)))],
    }


def _square() -> dict[int, list[Stroke]]:
    """Angular marker hand: straight lines where it can, boxy bowls."""
    return {
        0: [line((.2, .05), (.8, .05), (.9, .5), (.8, .95), (.2, .95), (.1, .5), (.2, .05))],
        1: [line((.55, 0), (.5, 1))],
        2: [line((.1, .15), (.35, 0), (.75, 0), (.9, .2), (.85, .4), (.1, 1), (.95, 1))],
        3: [line((.1, 0), (.9, .05), (.45, .45), (.85, .6), (.85, .85), (.55, 1), (.1, .92))],
        4: [line((.6, 1), (.6, 0), (.05, .65), (.95, .65))],
        5: [line((.9, 0), (.2, 0), (.15, .45), (.7, .45), (.9, .65), (.85, .9), (.6, 1), (.1, .92))],
        6: [line((.8, 0), (.35, .25), (.15, .6), (.2, .95), (.7, 1), (.85, .75), (.7, .5), (.35, .5),
                 (.18, .65))],
        7: [line((.05, 0), (.95, 0), (.5, .55), (.4, 1))],
        8: [line((.5, .48), (.2, .3), (.25, .05), (.75, .05), (.8, .3), (.2, .7), (.25, .97),
                 (.75, .97), (.8, .7), (.5, .48))],
        9: [line((.85, .2), (.6, .0), (.25, .05), (.15, .3), (.35, .5), (.8, .4), (.85, .2),
                 (.8, .6), (.7, 1))],
    }


STYLES = {"sans": _sans(), "european": _european(), "rounded": _rounded(), "serif": _serif(),
          "slanted": _slanted(), "narrow": _narrow(), "square": _square()}
ASPECT = {"sans": .62, "european": .6, "rounded": .75, "serif": .62, "slanted": .58,
          "narrow": .45, "square": .6}
SLANT = {"slanted": .22, "european": .08}
"""Horizontal shear (x += slant * (1 - y)): a forward-leaning hand."""
