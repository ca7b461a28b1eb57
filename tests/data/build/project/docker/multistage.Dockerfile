FROM zpanel-test/busybox:1 AS base
ARG GREETING=default
ARG FROM_ENV=unset
RUN echo "$GREETING $FROM_ENV" > /greeting

FROM base AS final
COPY . /ctx/

FROM base AS never
RUN exit 1
