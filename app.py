"""Draw a digit and watch the network think (placeholder until the app lands)."""

import streamlit as st

st.set_page_config(page_title="Draw a digit", page_icon="✏️", layout="wide")
st.title("Draw a digit and watch the network think")
st.info("The app is being built: see the README for what works today.")
