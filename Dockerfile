# The Airflow image of the docker-compose stack: the official Airflow image plus this provider, with
# every dependency pinned by requirements/lock.txt (the versions the tests ran).
#
#   docker build -t airflow-crm-provider .                 # on apache/airflow (the default base)
#   docker build --build-arg AIRFLOW_IMAGE=my/airflow:tag .  # on another Airflow image
#
# Package index settings come in as build arguments (e.g. --build-arg PIP_INDEX_URL=...), never
# written here.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2
FROM ${AIRFLOW_IMAGE}
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
USER root
# The emulator's CA and state directories, owned by airflow so that fresh named volumes mounted
# there are too.
RUN mkdir -p /opt/emulator-tls /opt/emulator-state && chown airflow:0 /opt/emulator-tls /opt/emulator-state
USER airflow
# Dependencies first (one layer, rebuilt only when the lock changes), then the provider itself.
COPY --chown=airflow:0 requirements/lock.txt /opt/airflow-crm-provider/requirements/lock.txt
RUN pip install --no-cache-dir --disable-pip-version-check -r /opt/airflow-crm-provider/requirements/lock.txt
COPY --chown=airflow:0 pyproject.toml README.md LICENSE /opt/airflow-crm-provider/
COPY --chown=airflow:0 airflow_crm_provider /opt/airflow-crm-provider/airflow_crm_provider
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation \
        /opt/airflow-crm-provider \
    && python -c "import airflow_crm_provider.hooks.zoho_crm"
