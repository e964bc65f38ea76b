# Stand-in for the official postgres image from Debian's PostgreSQL: POSTGRES_USER, POSTGRES_PASSWORD
# and POSTGRES_DB on first start, data in /var/lib/postgresql/data, pg_isready on PATH.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/bin:/bin PGDATA=/var/lib/postgresql/data
RUN mkdir -p "$PGDATA" /run/postgresql && chown -R postgres:postgres "$PGDATA" /run/postgresql \
    && chmod 700 "$PGDATA"
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
USER postgres
EXPOSE 5432
# Fast shutdown (as the official image): SIGTERM's smart shutdown waits for every client, so a
# `docker stop` ran out of time and killed it, and each start began with crash recovery.
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/postgres-entrypoint"]
