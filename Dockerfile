# llm-load image: the llm-load wheel (built in the first stage, as `python -m build` would) and
# its dependencies in a venv at /opt/venv; the shipped locustfiles and scenarios are linked at
# /opt/llm-load/locustfiles and /opt/llm-load/scenarios (they live inside the installed package).
#
#   docker build -t llm-load .                      # FROM the official python:3.12-slim
#   docker build -t llm-load --build-arg BASE_IMAGE=local/debian-python:bookworm .
#
# Works on the official Python images and on Debian's own python3 (which needs a venv: it refuses
# system-wide pip and has no `python` command). The entrypoint runs `locust` when the first
# argument is an option (or there is none) and any other command as given:
#
#   docker run --network host llm-load --headless -u 8 -t 30s -H http://127.0.0.1:8000
#   docker run --network host llm-load llm-load run smoke --headless -H http://127.0.0.1:8000
#   docker run --network host llm-load llm-load mock --port 8000
ARG BASE_IMAGE=python:3.12-slim

# Stage 1: the wheel, from the source tree (only what the wheel needs is in the context).
FROM ${BASE_IMAGE} AS wheel
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY llm_load/ llm_load/
COPY locustfiles/ locustfiles/
COPY scenarios/ scenarios/
RUN python3 -m venv /opt/build && /opt/build/bin/pip wheel --no-deps --wheel-dir /dist .

# Stage 2: the image.
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# Dependencies first, from pyproject.toml alone: editing the code (or the README) keeps this layer.
WORKDIR /opt/llm-load
COPY pyproject.toml ./
RUN python3 -m venv /opt/venv \
 && python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# A non-root user and the entrypoint (rarely change: before the code).
RUN useradd --uid 1000 --user-group --create-home --shell /usr/sbin/nologin llm-load \
 && mkdir -p /work/results /work/scenarios \
 && chown llm-load:llm-load /work /work/results \
 && printf '%s\n' \
      '#!/bin/sh' \
      '# llm-load: locust when the first argument is an option (or absent), else the command.' \
      '# Fails fast when the summary file (LLM_LOAD_LLM_JSON) could not be written at the end.' \
      'case "${1:-}" in' \
      '  ""|-*)' \
      '    if [ -n "${LLM_LOAD_LLM_JSON:-}" ]; then' \
      '      dir=$(dirname -- "$LLM_LOAD_LLM_JSON"); mkdir -p -- "$dir" 2>/dev/null' \
      '      if [ ! -w "$dir" ]; then' \
      '        echo "llm-load: $dir is not writable by uid $(id -u), so $LLM_LOAD_LLM_JSON could" \
             "not be written: create the host directory first (mkdir -p results) or set" \
             "LLM_LOAD_UID/LLM_LOAD_GID to its owner" >&2; exit 2' \
      '      fi' \
      '    fi' \
      '    exec locust "$@" ;;' \
      '  *) exec "$@" ;;' \
      'esac' \
      > /usr/local/bin/llm-load-entrypoint \
 && chmod 755 /usr/local/bin/llm-load-entrypoint

# The wheel (its dependencies are all above), then links to the files it ships.
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install /tmp/dist/*.whl \
 && rm -rf /tmp/dist \
 && package=$(python -c "import llm_load, os; print(os.path.dirname(llm_load.__file__))") \
 && ln -s "$package/locustfiles" "$package/scenarios" /opt/llm-load/ \
 && llm-load validate smoke >/dev/null

ENV LOCUST_LOCUSTFILE=/opt/llm-load/locustfiles/chat.py
WORKDIR /work
USER llm-load
EXPOSE 8089 5557
ENTRYPOINT ["llm-load-entrypoint"]
CMD []
