# vagus — one image for the bridge and the (simulated) agent of docker-compose.yml.
# Build: docker compose build (or docker build -t vagus:local .). Only the package sources are
# copied; deploy/local (secrets) is also kept out of the build context by .dockerignore.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY vagus vagus
COPY signal signal
COPY edge edge
COPY sync sync
COPY firmware-sim firmware-sim
RUN pip install . && rm -rf /src

# Never root: docker-compose.yml runs it as the user who ran `vagus init` (who owns the secrets);
# on its own it runs as this unprivileged user.
RUN useradd --system --uid 10001 --home-dir /var/lib/vagus --create-home vagus
USER vagus
WORKDIR /var/lib/vagus
CMD ["vagus", "--help"]
