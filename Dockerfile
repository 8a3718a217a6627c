# Switchboard in a container (docs/operations.md#container):
#   docker build -t switchboard .
#   docker run -p 8080:8080 -v switchboard-data:/var/lib/switchboard switchboard
# The build stage makes the Debian package (`make package`); the runtime stage installs it with apt,
# so it gets exactly the runtime libraries the package's Depends name, the switchboard user, and
# /etc/switchboard/switchboard.toml. Run `make web` first to have /dashboard/ and /demo/ in it.

FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config dpkg-dev file \
      libboost1.81-dev libboost-json1.81-dev libssl-dev zlib1g-dev libsqlite3-dev libspdlog-dev \
      libfmt-dev libcli11-dev libtomlplusplus-dev libhiredis-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSWITCHBOARD_TESTS=OFF -DSWITCHBOARD_BENCH=OFF \
 && cmake --build build --target switchboard \
 && cd build && cpack -G DEB

FROM debian:12-slim
COPY --from=build /src/build/packages/switchboard_*.deb /tmp/
# postinst creates the switchboard user and /var/lib/switchboard; no systemd runs here to start.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /tmp/switchboard_*.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/switchboard_*.deb
USER switchboard
WORKDIR /var/lib/switchboard
VOLUME /var/lib/switchboard
EXPOSE 8080
# Logs go to standard error (docker logs). SIGTERM (docker stop) closes connections gracefully.
# Settings: edit a copy of /etc/switchboard/switchboard.toml mounted over it, or SWITCHBOARD_* variables.
# The health check speaks HTTP with bash alone, no curl in the image; it assumes port 8080.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
CMD ["switchboard", "serve", "--config", "/etc/switchboard/switchboard.toml"]
