#!/usr/bin/env python3
"""Write a large Compose project for benchmarks and tests: N services sharing anchors
(merge keys), interpolated values with defaults, ports, volumes, health checks and
dependencies. Usage: gen_compose.py N OUTPUT_DIR"""
import os
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen_compose.py N OUTPUT_DIR")
    n = int(sys.argv[1])
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    lines = [
        "x-common: &common",
        "  restart: unless-stopped",
        "  init: true",
        "  environment:",
        "    LOG_LEVEL: ${LOG_LEVEL:-info}",
        "    REGION: ${REGION-eu}",
        "  labels:",
        "    app.tier: bench",
        "  healthcheck:",
        "    test: [\"CMD\", \"true\"]",
        "    interval: 1m30s",
        "    timeout: 5s",
        "    retries: 3",
        "  mem_limit: 64m",
        "services:",
    ]
    for i in range(n):
        lines += [
            f"  svc{i}:",
            "    <<: *common",
            f"    image: \"bench/app{i % 50}:${{TAG:-1.0}}\"",
            "    command: [\"serve\", \"--port\", \"8080\"]",
            "    ports:",
            f"      - \"127.0.0.1:{20000 + i}:8080\"",
            "    volumes:",
            f"      - data{i % 20}:/data",
            f"    hostname: svc{i}",
        ]
        if i % 4:
            lines += ["    depends_on:", f"      - svc{i - 1}"]
    lines.append("volumes:")
    for v in range(20):
        lines.append(f"  data{v}:")
    with open(os.path.join(out, "compose.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, ".env"), "w") as f:
        f.write("TAG=2.1\nLOG_LEVEL=debug\n")


if __name__ == "__main__":
    main()
