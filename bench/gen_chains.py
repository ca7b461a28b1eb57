#!/usr/bin/env python3
"""Write the `up` benchmark project: CHAINS chains of LENGTH health-gated services
(health interval 1s, probe timeout 5s, init: true so they stop promptly), each service waiting for the
previous one of its chain to be healthy. Usage: gen_chains.py CHAINS LENGTH IMAGE OUT_FILE"""
import sys


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: gen_chains.py CHAINS LENGTH IMAGE OUT_FILE")
    chains, length, image, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    lines = ["services:"]
    for c in range(chains):
        for i in range(length):
            lines += [
                f"  c{c}s{i}:",
                f"    image: {image}",
                "    init: true",
                "    command: [\"sh\", \"-c\", \"touch /ready && exec sleep 3600\"]",
                "    healthcheck:",
                "      test: [\"CMD\", \"test\", \"-f\", \"/ready\"]",
                "      interval: 1s",
                "      timeout: 5s",  # a loaded engine runs probes slowly: no false timeouts
                "      retries: 30",
            ]
            if i > 0:
                lines += [
                    "    depends_on:",
                    f"      c{c}s{i - 1}:",
                    "        condition: service_healthy",
                ]
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
