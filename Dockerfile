# drill-runner: `drillctl` in a small, non-root image.
#   docker build -t drill-runner:0.1.0 .
#   docker run --rm drill-runner:0.1.0 --help
# The base is pinned to an exact tag; pin it by digest too when you build
# (docker buildx imagetools inspect python:3.11.11-slim-bookworm).

FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/drill-runner
# Exactly the versions and hashes of requirements/runtime.lock (pip's hash-checking mode), the
# same pins as the development lock; then the package itself, built with the locked setuptools.
COPY requirements/runtime.lock ./requirements/
RUN /opt/drill-runner/bin/pip install --require-hashes -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY runner ./runner
RUN /opt/drill-runner/bin/pip install --no-deps --no-build-isolation . \
    && find /opt/drill-runner -name '__pycache__' -type d -prune -exec rm -rf {} +

FROM python:3.11.11-slim-bookworm
ENV PATH=/opt/drill-runner/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 drill \
    && useradd --system --uid 10001 --gid drill --home-dir /var/lib/drill-runner \
       --shell /usr/sbin/nologin drill \
    && mkdir -p /var/lib/drill-runner /etc/drill-runner/drills /etc/drill-runner/scenarios \
    && chown drill:drill /var/lib/drill-runner
COPY --from=build /opt/drill-runner /opt/drill-runner
WORKDIR /var/lib/drill-runner
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["drillctl"]
CMD ["schedule", "serve", "--drills=/etc/drill-runner/drills", "--results=/var/lib/drill-runner/results"]
