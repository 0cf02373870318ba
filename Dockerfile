# The app in one container:  docker build -t draw-a-digit . && docker run -p 8501:8501 draw-a-digit
# Presentation mode:         docker run -p 8501:8501 draw-a-digit \
#                              streamlit run app.py --server.address 0.0.0.0 -- --mode present
# One container runs one Streamlit process (about one core's worth of sessions); for more,
# run several and put a sticky proxy in front (deploy/nginx.conf, scripts/serve_cluster.py).
FROM python:3.11-slim

# One BLAS thread: each session runs on its own thread already, and OpenBLAS threads on
# batch-1 products only fight over the cores (see README, "Running for a crowd").
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OPENBLAS_NUM_THREADS=1 \
    OMP_NUM_THREADS=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY . .
RUN useradd --create-home app
USER app

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4); sys.exit(0 if r.read().strip() == b'ok' else 1)"]
CMD ["streamlit", "run", "app.py", "--server.address", "0.0.0.0", "--server.port", "8501"]
