FROM scratch
COPY busybox /bin/busybox
COPY app/ /app/
CMD ["/bin/busybox", "ls", "/app"]
