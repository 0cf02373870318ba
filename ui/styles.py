"""The page's CSS: the base rules for every page, and the presentation page's additions."""

from __future__ import annotations

# Pictures are sent at their native size (a 28x28 input is 28x28 PNG pixels: small, quick to
# encode on every stroke) and enlarged by the browser with crisp pixels.
BASE_CSS = """<style>
[data-testid="stImage"] img { image-rendering: pixelated; }
.st-key-prediction [data-testid="stMetricValue"] {
  font-size: 6rem; font-weight: 700; line-height: 1.1; color: #d62728; }
.st-key-verdict_unsure [data-testid="stMetricValue"] { font-size: 3.2rem; color: #e07b00; }
.st-key-verdict_not_a_digit [data-testid="stMetricValue"] { font-size: 2.4rem; color: #6b6b6b; }
</style>"""

PRESENT_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stHeader"], [data-testid="stToolbar"] { display: none !important; }
.block-container { padding-top: 1.2rem !important; max-width: 100% !important; }
.st-key-prediction [data-testid="stMetricValue"] { font-size: 11rem; }
.st-key-verdict_unsure [data-testid="stMetricValue"] { font-size: 6rem; }
.st-key-verdict_not_a_digit [data-testid="stMetricValue"] { font-size: 4.5rem; }
.st-key-prediction [data-testid="stMetricLabel"] p { font-size: 1.6rem; }
.prob-bars { font-size: 1.35rem; }
</style>"""
