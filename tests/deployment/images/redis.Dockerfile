# Stand-in for the official redis image from Debian's redis-server (redis-cli on PATH).
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
USER redis
EXPOSE 6379
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
