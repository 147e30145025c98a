"""Scanners: post-processing over finished flow files (tcpflow's -e/-E/-x/-a), registered by name."""
