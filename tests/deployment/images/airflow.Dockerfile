# Stand-in for the official apache/airflow image, for machines that cannot pull it: the same user
# (airflow, uid 50000, gid 0), AIRFLOW_HOME, an /entrypoint that runs `airflow <command>`, curl for the
# health checks, and Airflow with every pinned dependency from requirements/lock.txt.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
ARG UV_VERSION
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG UV_INDEX_URL
ARG UV_EXTRA_INDEX_URL
ARG HTTP_PROXY
ARG HTTPS_PROXY
ARG NO_PROXY
ENV AIRFLOW_HOME=/opt/airflow \
    PATH=/home/airflow/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1
RUN useradd --uid 50000 --gid 0 --create-home --home-dir /home/airflow airflow \
    && mkdir -p /opt/airflow/dags /opt/airflow/logs /opt/airflow/plugins /opt/airflow/config \
    && chown -R airflow:0 /opt/airflow && chmod -R g+rwX /opt/airflow
COPY --chown=airflow:0 entrypoint.sh /entrypoint
COPY build-ca.crt /tmp/build-ca.crt
COPY lock.txt /tmp/lock.txt
USER airflow
RUN python3 -m venv /home/airflow/.venv \
    && SSL_CERT_FILE=/tmp/build-ca.crt PIP_CERT=/tmp/build-ca.crt \
       pip install --no-cache-dir --disable-pip-version-check --quiet "uv==${UV_VERSION}" \
    && SSL_CERT_FILE=/tmp/build-ca.crt uv pip install --no-cache --quiet \
       --python /home/airflow/.venv/bin/python -r /tmp/lock.txt pip \
    && rm -rf /home/airflow/.cache
WORKDIR /opt/airflow
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--", "/entrypoint"]
CMD []
