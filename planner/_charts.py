"""Chart helpers shared by every matplotlib figure: a CJK-capable font so Chinese labels render."""
from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["cjk_font", "font_rc"]

#: Font files tried, in order (Debian paths), then any system font whose name says CJK.
_CJK_FILES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
              "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Family name of an installed CJK font registered with matplotlib, or ``None``."""
    from matplotlib import font_manager

    files = [f for f in _CJK_FILES if Path(f).is_file()]
    files += [f for f in font_manager.findSystemFonts() if any(k in Path(f).name.lower() for k in ("wqy", "cjk"))]
    for f in files:
        try:
            font_manager.fontManager.addfont(f)
            return font_manager.FontProperties(fname=f).get_name()
        except (OSError, RuntimeError):
            continue
    return None


def font_rc() -> dict:
    """matplotlib rc settings that draw Chinese and Latin text (for ``matplotlib.rc_context`` or
    ``rcParams.update``). The families are named, not ``sans-serif``, so text created inside an
    ``rc_context`` keeps the CJK font when the figure is drawn after it."""
    font = cjk_font()
    return {"font.family": ([font] if font else []) + ["DejaVu Sans"], "axes.unicode_minus": False}
