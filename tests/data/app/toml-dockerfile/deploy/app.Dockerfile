FROM busybox
expose 7000/tcp
