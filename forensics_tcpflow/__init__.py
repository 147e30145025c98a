"""forensics_tcpflow: a forensic TCP flow recorder, tcpflow-compatible and auditable."""

__version__ = "0.1.0"
