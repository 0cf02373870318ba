"""The page's CSS: the base rules for every page, and the presentation page's additions."""

from __future__ import annotations

# Pictures are sent at their native size (a 28x28 input is 28x28 PNG pixels: small, quick to
# encode on every stroke) and enlarged by the browser with crisp pixels. On a phone the
# explore page's title takes one or two short lines, not three big ones above the canvas.
BASE_CSS = """<style>
[data-testid="stImage"] img { image-rendering: pixelated; }
.view-note { font-size: .875rem; color: rgba(49, 51, 63, .6); margin: .35rem 0; }
.view-text { margin: .35rem 0; }
.unit-view { display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; align-items: flex-start; }
.unit-picture { flex: 0 0 auto; width: 250px; max-width: 100%; }
.unit-words { flex: 1 1 260px; min-width: 0; }
.pictures { display: flex; gap: .75rem; }
.pictures figure { flex: 1 1 0; margin: 0; min-width: 0; }
.pictures img { width: 100%; display: block; image-rendering: pixelated; border-radius: .5rem; }
.pictures figcaption { font-size: .875rem; color: rgba(49, 51, 63, .6); text-align: center;
  margin-top: .25rem; line-height: 1.35; }
.st-key-prediction [data-testid="stMetricValue"] {
  font-size: 6rem; font-weight: 700; line-height: 1.1; color: #d62728; }
.st-key-verdict_unsure [data-testid="stMetricValue"],
.st-key-prediction:has(.verdict-unsure) [data-testid="stMetricValue"] {
  font-size: 3.2rem; color: #e07b00; }
.st-key-verdict_not_a_digit [data-testid="stMetricValue"],
.st-key-prediction:has(.verdict-not_a_digit) [data-testid="stMetricValue"] {
  font-size: 2.4rem; color: #6b6b6b; }
@media (max-width: 640px) {
  h1 { font-size: 1.45rem !important; line-height: 1.25 !important; padding: .2rem 0 !important; }
  .block-container, [data-testid="stMainBlockContainer"] { padding-top: 3.5rem !important; }
}
</style>"""

# Sizes follow the viewport: TEXT is 28 px at 1080 px tall (readable from the back of a room)
# and 20 px at 768; the canvas is shown at --present-zoom (set by ui.present.FIT_JS), and the
# columns beside it take fixed shares of the width, so nothing scrolls at 1024x768 or 1920x1080.
PRESENT_CSS = """<style>
:root { --text: max(16px, 2.6vh); }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"] {
  display: none !important; }
.block-container, [data-testid="stMainBlockContainer"] {
  padding: 1vh 1.2vw 0 1.2vw !important; max-width: 100% !important; }
.present-title { font-size: calc(var(--text) * 1.3); font-weight: 700; margin: 0;
  line-height: 1.2; flex: 1; }
.st-key-present_head .stButton button p, .st-key-present_canvas .stButton button p,
.st-key-crowd_wall .stButton button p, .st-key-present_canvas .canvas-controls button,
.st-key-present_canvas .canvas-controls .material-symbols-rounded { font-size: var(--text); }
.st-key-present_canvas { position: relative;
  width: calc(420px * var(--present-zoom, 1)) !important; }
.st-key-present_canvas [data-testid="stElementContainer"]:has(.attract-sample) {
  position: absolute; top: 0; left: 0; z-index: 10; pointer-events: none; }
.st-key-present_canvas .st-key-canvas_clip { zoom: var(--present-zoom, 1); position: relative;
  z-index: 0; }
.attract-sample { position: relative; pointer-events: none;
  width: calc(420px * var(--present-zoom, 1)); aspect-ratio: 1 / 1; z-index: 5; }
.attract-sample img { width: 100%; height: 100%; display: block; }
.attract-sample span { position: absolute; left: 0; right: 0; bottom: .4em; text-align: center;
  color: #ffbf00; font-size: var(--text); }
.st-key-present_canvas [data-testid="stAlert"] p { font-size: var(--text); }
.st-key-draw_prediction { width: 20vw !important; }
.st-key-draw_input { width: 15vw !important; }
.st-key-draw_input .pictures { flex-direction: column; gap: .5vh; }
.st-key-present_diagram { min-width: 0; flex: 1 1 0; }
.st-key-present_diagram .diagram-caption { font-size: var(--text); line-height: 1.25; }
.st-key-present_diagram svg { max-height: calc(100vh - 9 * var(--text)); }
.st-key-present_head [data-testid="stButtonGroup"] button p { font-size: var(--text); }
.st-key-prediction [data-testid="stMetricValue"] { font-size: 20vh !important;
  line-height: 1 !important; }
.st-key-prediction [data-testid="stMetricLabel"] p,
.st-key-prediction [data-testid="stMetricDelta"] div { font-size: var(--text) !important; }
.prob-bars { font-size: var(--text); line-height: 1.15; width: 100%; min-width: 9em; }
.st-key-draw_prediction [data-testid="stMarkdown"],
.st-key-draw_prediction [data-testid="stMarkdownContainer"] { width: 100%; }
.st-key-draw_input .pictures img { width: 26vh; max-width: 100%; height: auto; }
.st-key-draw_input .pictures figcaption { font-size: var(--text); line-height: 1.2;
  text-align: left; }
.st-key-present_side { min-width: 0; flex: 1 1 0; }
.st-key-present_side .st-key-join_qr [data-testid="stImage"] img {
  width: 19vh !important; max-width: 100% !important; }
.st-key-join_qr .join-title, .st-key-join_qr .join-url { font-size: var(--text); }
.st-key-crowd_wall .crowd-tally { font-size: var(--text); }
.st-key-crowd_wall .crowd-grid {
  grid-template-columns: repeat(auto-fill, minmax(min(9vh, calc(33% - 6px)), 1fr)); }
.st-key-crowd_wall .crowd-answer { font-size: calc(var(--text) * 1.1); }
.st-key-crowd_wall .crowd-said { font-size: var(--text); }
.st-key-present_head .stButton button [data-testid="stIconMaterial"],
.st-key-present_canvas .stButton button [data-testid="stIconMaterial"],
.st-key-crowd_wall .stButton button [data-testid="stIconMaterial"] { font-size: var(--text); }
.st-key-verdict_unsure [data-testid="stMetricValue"],
.st-key-prediction:has(.verdict-unsure) [data-testid="stMetricValue"] {
  font-size: 10vh !important; }
.st-key-verdict_not_a_digit [data-testid="stMetricValue"],
.st-key-prediction:has(.verdict-not_a_digit) [data-testid="stMetricValue"] {
  font-size: 7vh !important; }
@media (max-width: 700px) {
  .st-key-draw_prediction, .st-key-draw_input { width: 100% !important; }
  .st-key-prediction [data-testid="stMetricValue"] { font-size: 6rem !important; }
}
</style>"""
