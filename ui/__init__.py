"""Streamlit pieces of the app (the only Streamlit code besides app.py)."""
